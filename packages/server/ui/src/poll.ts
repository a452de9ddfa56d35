/**
 * Live data without reload: a page polls the member while it is shown.
 * Cluster state (members, leader, term) lives outside the keyspace, so no
 * watch can carry it; one request per period is cheap for a member.
 */
import { useEffect, useRef, useState } from "preact/hooks";

export interface Polled<T> {
  readonly data: T | undefined;
  /** The last attempt's failure; the last good data stays shown beside it. */
  readonly error: string | undefined;
}

export function usePoll<T>(load: () => Promise<T>, periodMs: number, onData?: (data: T) => void): Polled<T> {
  const [state, setState] = useState<Polled<T>>({ data: undefined, error: undefined });
  const loader = useRef(load);
  loader.current = load;
  const handler = useRef(onData);
  handler.current = onData;
  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const round = async (): Promise<void> => {
      try {
        const data = await loader.current();
        if (stopped) return;
        handler.current?.(data);
        setState({ data, error: undefined });
      } catch (error) {
        if (!stopped) setState((previous) => ({ data: previous.data, error: messageOf(error) }));
      }
      if (!stopped) timer = setTimeout(() => void round(), periodMs);
    };
    void round();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [periodMs]);
  return state;
}

export const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error));
