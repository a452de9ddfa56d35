/**
 * Live watch fan-out: the state machine publishes each applied batch's events
 * once; every subscriber whose key range matches gets them, in revision order.
 * The hub also tells the store whether anyone wants previous key-values in
 * events, which cost a read per write.
 */
import type { WatchEvent } from "@raftkv/mvcc";

export interface KeyRange {
  readonly key: Uint8Array;
  /** etcd's convention: empty for one key, a zero byte for "everything from key on". */
  readonly rangeEnd: Uint8Array;
}

export interface Interest extends KeyRange {
  /** etcd's prev_kv: events should carry the key-value each one replaced. */
  readonly prevKv?: boolean;
}

export type EventListener = (events: readonly WatchEvent[], revision: number) => void;

interface Subscription {
  readonly range: KeyRange;
  readonly listener: EventListener;
}

const NONE: readonly WatchEvent[] = [];

export class WatchHub {
  private readonly subscriptions = new Set<Subscription>();
  private prevKvSubscriptions = 0;

  /** Whether some subscriber wants the previous key-value in events. */
  get wantsPrevKv(): boolean {
    return this.prevKvSubscriptions > 0;
  }

  subscribe(interest: Interest, listener: EventListener): () => void {
    const subscription = { range: interest, listener };
    const prevKv = interest.prevKv === true;
    this.subscriptions.add(subscription);
    if (prevKv) this.prevKvSubscriptions++;
    return () => {
      if (this.subscriptions.delete(subscription) && prevKv) this.prevKvSubscriptions--;
    };
  }

  /** Hands `events` (all at or below `revision`) to every matching subscriber. */
  publish(events: readonly WatchEvent[], revision: number): void {
    if (events.length === 0) return;
    // A batch of one event (puts one at a time) goes as it is to every subscriber it matches, not copied for each.
    const only = events.length === 1 ? events[0]! : undefined;
    for (const subscription of this.subscriptions) {
      const matching = only ? (inRange(only.kv.key, subscription.range) ? events : NONE) : events.filter((event) => inRange(event.kv.key, subscription.range));
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
