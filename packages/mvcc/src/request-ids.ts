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

/** Full, with 36-character ids and small responses: about 24 MB of memory and 6 MB of LevelDB. */
export const DEFAULT_REQUEST_ID_WINDOW = 100_000;

export function isValidRequestId(id: string): boolean {
  return id.length >= 1 && id.length <= MAX_REQUEST_ID_LENGTH;
}

/** What memory keeps of an id; the outcome itself stays in LevelDB until a retry asks for it. */
export interface RememberedRequest {
  /** The raft index of the entry that applied it: where its outcome is stored. */
  readonly index: number;
  /** A checksum of the request, to refuse an id reused for another request. */
  readonly fingerprint: number;
}

export class RequestIdWindow {
  private readonly remembered = new Map<string, RememberedRequest>();
  /**
   * The same ids in apply order, oldest first. A Map alone keeps that order
   * too, but finding its oldest entry walks over every one deleted since V8
   * last rehashed it: 100 µs per eviction in a full window.
   */
  private readonly order = new Denque<string>();

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`mvcc: the request id window must hold at least one id, not ${capacity}`);
  }

  get size(): number {
    return this.remembered.size;
  }

  get(id: string): RememberedRequest | undefined {
    return this.remembered.get(id);
  }

  /** Remembers an id not in the window; returns the oldest ones it pushed out. */
  add(id: string, request: RememberedRequest): RememberedRequest[] {
    this.remembered.set(id, request);
    this.order.push(id);
    const evicted: RememberedRequest[] = [];
    while (this.order.length > this.capacity) {
      const oldest = this.order.shift() as string;
      evicted.push(this.remembered.get(oldest) as RememberedRequest);
      this.remembered.delete(oldest);
    }
    return evicted;
  }
}
