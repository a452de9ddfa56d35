/**
 * A KvApi watch as an async iterator, so that the recipes and the streaming
 * routes read updates with `for await` and stop the watch by leaving the
 * loop or by aborting a signal (the client went away).
 */
import type { KvApi, WatchRequest, WatchUpdate } from "../kv/api.js";

/**
 * Starts a watch and yields its updates in order. The iterator ends after a
 * `compacted` update (the watch is over), when `signal` aborts, or when the
 * consumer stops iterating; each way cancels the watch. Starting is awaited
 * so that a refused watch is an error before any reply is sent.
 */
export async function watchUpdates(api: KvApi, request: WatchRequest, signal: AbortSignal): Promise<AsyncGenerator<WatchUpdate>> {
  const inbox = new Inbox<WatchUpdate>();
  const watch = await api.watch(request, (update) => {
    inbox.push(update);
    if (update.kind === "compacted") inbox.close();
  });
  let cancelled = false;
  const stop = (): void => {
    if (cancelled) return;
    cancelled = true;
    watch.cancel();
    inbox.close();
  };
  if (signal.aborted) stop();
  else signal.addEventListener("abort", stop, { once: true });

  async function* updates(): AsyncGenerator<WatchUpdate> {
    try {
      yield* inbox;
    } finally {
      signal.removeEventListener("abort", stop);
      stop();
    }
  }
  return updates();
}

/** A single-consumer queue: pushes never wait, the consumer awaits the next item. */
class Inbox<T> implements AsyncIterableIterator<T> {
  private readonly items: T[] = [];
  private waiting: ((result: IteratorResult<T, undefined>) => void) | undefined;
  private closed = false;

  push(item: T): void {
    if (this.closed) return;
    const waiting = this.takeWaiting();
    if (waiting) waiting({ value: item, done: false });
    else this.items.push(item);
  }

  /** Ends the iteration once the queued items are consumed. */
  close(): void {
    this.closed = true;
    this.takeWaiting()?.({ value: undefined, done: true });
  }

  next(): Promise<IteratorResult<T, undefined>> {
    if (this.items.length > 0) return Promise.resolve({ value: this.items.shift() as T, done: false });
    if (this.closed) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => (this.waiting = resolve));
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  private takeWaiting(): ((result: IteratorResult<T, undefined>) => void) | undefined {
    const waiting = this.waiting;
    this.waiting = undefined;
    return waiting;
  }
}
