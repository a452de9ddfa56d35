/**
 * The history of a run as clients saw it: each operation's invocation, then
 * its completion, in the order they happened, stamped with milliseconds
 * since the run began. It is written in the checker's JSON-lines format.
 */
import { NEMESIS, formatJsonl, type EventType, type HistoryEvent, type ProcessId, type Value } from "../checker/index.js";
import { surelyWithoutEffect } from "./outcome.js";

/** An event as recorded: the checker's event without a source line, always timed. */
export type RecordedEvent = Omit<HistoryEvent, "line"> & { readonly time: number };

/** What an operation is asked to do. */
export interface OperationCall {
  readonly f: string;
  readonly key?: Value;
  readonly value?: Value;
}

/**
 * How an operation ended: `ok` with what it returned, `fail` when it surely
 * did not take effect, `info` when it may or may not have (outcome.ts tells
 * which a thrown error means).
 */
export type Completion =
  | { readonly type: "ok"; readonly value?: Value }
  | { readonly type: "fail"; readonly error: string }
  | { readonly type: "info"; readonly error: string };

export class Recorder {
  private readonly recorded: RecordedEvent[] = [];
  private origin = performance.now();

  get events(): readonly RecordedEvent[] {
    return this.recorded;
  }

  /** Starts the clock again: time 0 is when the clients start, not when the cluster did. */
  begin(): void {
    if (this.recorded.length > 0) throw new Error("the history has begun already");
    this.origin = performance.now();
  }

  now(): number {
    return Math.round((performance.now() - this.origin) * 1000) / 1000;
  }

  /** Records the invocation, runs the action, records how it ended, and returns that. */
  async perform(process: ProcessId, call: OperationCall, action: () => Promise<Completion>): Promise<Completion> {
    this.record(process, "invoke", call);
    const completion = await action().catch((error: unknown) => completionOf(error));
    const value = completion.type === "ok" ? completion.value : undefined;
    this.record(process, completion.type, value === undefined ? { f: call.f, key: call.key } : { f: call.f, key: call.key, value });
    return completion;
  }

  /** A fault injection or its end, for the report: the checker skips the nemesis's events. */
  nemesis(f: string, value: string): void {
    this.record(NEMESIS, "info", { f, value });
  }

  jsonl(): string {
    return formatJsonl(this.historyEvents());
  }

  /** The events as the checker reads them back, numbered by their line in the history file. */
  historyEvents(): HistoryEvent[] {
    return this.recorded.map((event, index) => ({ ...event, line: index + 1 }));
  }

  private record(process: ProcessId, type: EventType, { f, key, value }: OperationCall): void {
    this.recorded.push({
      process,
      type,
      f,
      ...(key !== undefined && { key }),
      ...(value !== undefined && { value }),
      time: this.now(),
    });
  }
}

function completionOf(error: unknown): Completion {
  const message = error instanceof Error ? error.message : String(error);
  return surelyWithoutEffect(error) ? { type: "fail", error: message } : { type: "info", error: message };
}
