/**
 * The request id window: which client request ids the store applied, so that
 * a client retrying a write (after a timeout, a failover, a dropped
 * connection) cannot apply it twice. It is replicated state like the rest:
 * every replica remembers the same ids because it applied the same log, the
 * ids are in the same LevelDB write as the data, and snapshots carry them.
 *
 * Eviction is by count, in apply order: the window holds the last `capacity`
 * ids, so every replica forgets the same id at the same entry. No clock is
 * involved; a retry is safe while fewer than `capacity` other writes with
 * ids were applied since the first attempt.
 */

import Denque from "denque";

/** Longer ids are refused: they would cost memory on every replica for the whole window. */
export const MAX_REQUEST_ID_LENGTH = 128;

/** Full, with 36-character ids and small responses: about 17 MB of memory and 6 MB of LevelDB. */
export const DEFAULT_REQUEST_ID_WINDOW = 100_000;

export function isValidRequestId(id: string): boolean {
  return id.length >= 1 && id.length <= MAX_REQUEST_ID_LENGTH;
}

/**
 * The ids in memory, each with the raft index of the entry that applied it:
 * where its fingerprint and outcome are stored, read only when a retry comes.
 */
export class RequestIdWindow {
  private readonly indexes = new Map<string, number>();
  /**
   * The same ids in apply order, oldest first. A Map alone keeps that order
   * too, but finding its oldest entry walks over every one deleted since V8
   * last rehashed it: 100 µs per eviction in a full window.
   */
  private readonly order = new Denque<string>();

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`mvcc: the request id window must hold at least one id, not ${capacity}`);
  }

  /** The raft index of the entry that applied the id, if the window holds it. */
  indexOf(id: string): number | undefined {
    return this.indexes.get(id);
  }

  /** Remembers an id not in the window; returns the indexes of the oldest ones it pushed out. */
  add(id: string, index: number): number[] {
    this.indexes.set(id, index);
    this.order.push(id);
    const evicted: number[] = [];
    while (this.order.length > this.capacity) {
      const oldest = this.order.shift() as string;
      evicted.push(this.indexes.get(oldest) as number);
      this.indexes.delete(oldest);
    }
    return evicted;
  }
}
