/**
 * Live watch fan-out: the state machine publishes each applied batch's events
 * once; every subscriber whose key range matches gets them, in revision order.
 */
import type { WatchEvent } from "@raftkv/mvcc";

export interface KeyRange {
  readonly key: Uint8Array;
  /** etcd's convention: empty for one key, a zero byte for "everything from key on". */
  readonly rangeEnd: Uint8Array;
}

export type EventListener = (events: readonly WatchEvent[], revision: number) => void;

interface Subscription {
  readonly range: KeyRange;
  readonly listener: EventListener;
}

export class WatchHub {
  private readonly subscriptions = new Set<Subscription>();

  get size(): number {
    return this.subscriptions.size;
  }

  subscribe(range: KeyRange, listener: EventListener): () => void {
    const subscription = { range, listener };
    this.subscriptions.add(subscription);
    return () => this.subscriptions.delete(subscription);
  }

  /** Hands `events` (all at or below `revision`) to every matching subscriber. */
  publish(events: readonly WatchEvent[], revision: number): void {
    if (events.length === 0) return;
    for (const subscription of this.subscriptions) {
      const matching = events.filter((event) => inRange(event.kv.key, subscription.range));
      if (matching.length > 0) subscription.listener(matching, revision);
    }
  }
}

export function inRange(key: Uint8Array, range: KeyRange): boolean {
  if (range.rangeEnd.byteLength === 0) return Buffer.compare(key, range.key) === 0;
  if (Buffer.compare(key, range.key) < 0) return false;
  const everythingAfter = range.rangeEnd.byteLength === 1 && range.rangeEnd[0] === 0;
  return everythingAfter || Buffer.compare(key, range.rangeEnd) < 0;
}
