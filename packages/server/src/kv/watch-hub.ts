/**
 * Live watch fan-out: the state machine publishes each applied batch's events
 * once; every subscriber whose key range matches gets them, in revision order.
 * They are handed out in a later turn of the event loop, as etcd answers a
 * write and delivers its events apart: the answers settled with the apply
 * leave first, and a thousand watchers' share of the work does not hold up
 * the writer's next request. Whatever claims that the watches have seen
 * everything up to the current revision (a progress response) hands out
 * what is pending first (`deliverPending`). A watch created meanwhile loses
 * nothing: it reads history from the store, which already holds the events.
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

/**
 * One subscriber, with its range flattened into it: a fan-out reads these
 * fields for every subscriber, and each object it follows is another
 * likely cache miss in a large heap.
 */
class Subscription {
  /** False once unsubscribed: a pass under way skips it. */
  live = true;
  private readonly oneKey: boolean;
  private readonly everythingAfter: boolean;

  constructor(
    private readonly key: Uint8Array,
    private readonly rangeEnd: Uint8Array,
    readonly listener: EventListener,
  ) {
    this.oneKey = rangeEnd.byteLength === 0;
    this.everythingAfter = rangeEnd.byteLength === 1 && rangeEnd[0] === 0;
  }

  matches(key: Uint8Array): boolean {
    if (this.oneKey) return key.byteLength === this.key.byteLength && Buffer.compare(key, this.key) === 0;
    if (Buffer.compare(key, this.key) < 0) return false;
    return this.everythingAfter || Buffer.compare(key, this.rangeEnd) < 0;
  }
}

/** One applied batch's events, waiting to be handed out. */
interface Published {
  readonly events: readonly WatchEvent[];
  readonly revision: number;
}

/** A hand-out under way: these batches to these subscribers, from `next` on. */
interface Pass {
  readonly batches: readonly Published[];
  readonly subscribers: readonly Subscription[];
  next: number;
}

/**
 * How many subscribers a turn hands events to. A put to a key with a
 * thousand watchers is handed out over several turns, so that requests
 * (the writer's next put) and the peers' messages are read in between
 * rather than after the whole fan-out; batches published meanwhile go out
 * together in the next pass, and each stream joins a watch's revisions
 * into one response.
 */
export const SUBSCRIBERS_PER_TURN = 128;

const NONE: readonly WatchEvent[] = [];

export class WatchHub {
  private readonly subscriptions = new Set<Subscription>();
  private prevKvSubscriptions = 0;
  /** Batches published since the pass under way began. */
  private pending: Published[] = [];
  private pass: Pass | undefined;
  private scheduled = false;

  /** Whether some subscriber wants the previous key-value in events. */
  get wantsPrevKv(): boolean {
    return this.prevKvSubscriptions > 0;
  }

  subscribe(interest: Interest, listener: EventListener): () => void {
    const subscription = new Subscription(interest.key, interest.rangeEnd, listener);
    const prevKv = interest.prevKv === true;
    this.subscriptions.add(subscription);
    if (prevKv) this.prevKvSubscriptions++;
    return () => {
      subscription.live = false;
      if (this.subscriptions.delete(subscription) && prevKv) this.prevKvSubscriptions--;
    };
  }

  /** Hands `events` (all at or below `revision`) to every matching subscriber in later turns. */
  publish(events: readonly WatchEvent[], revision: number): void {
    // Nobody to hand them to: a watch that starts later reads them from the store.
    if (events.length === 0 || this.subscriptions.size === 0) return;
    this.pending.push({ events, revision });
    this.schedule();
  }

  /** Hands out at once everything published and not yet handed out, in revision order. */
  readonly deliverPending = (): void => this.handOut(Infinity);

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.handOut(SUBSCRIBERS_PER_TURN);
      if (this.pass || this.pending.length > 0) this.schedule();
    });
  }

  /**
   * Hands batches to up to `budget` subscribers. A pass ends before the
   * next begins, so each subscriber gets its batches in revision order; one
   * that subscribed after a pass began reads those events from the store.
   * The pass moves on before each subscriber is handed its batches, so a
   * listener that asks for a hand-out itself never gets them twice.
   */
  private handOut(budget: number): void {
    for (let left = budget; left > 0; left--) {
      this.pass ??= this.nextPass();
      const pass = this.pass;
      if (!pass) return;
      const subscription = pass.subscribers[pass.next++]!;
      if (pass.next === pass.subscribers.length) this.pass = undefined;
      // Gone since the pass began: it was canceled.
      if (!subscription.live) continue;
      for (const { events, revision } of pass.batches) handTo(subscription, events, revision);
    }
  }

  /** The batches pending, to the subscribers there are now; none without batches or without subscribers (later watches read the store). */
  private nextPass(): Pass | undefined {
    const batches = this.pending;
    this.pending = [];
    if (batches.length === 0 || this.subscriptions.size === 0) return undefined;
    return { batches, subscribers: [...this.subscriptions], next: 0 };
  }
}

function handTo(subscription: Subscription, events: readonly WatchEvent[], revision: number): void {
  // A batch of one event (puts one at a time) goes as it is to every subscriber it matches, not copied for each.
  const only = events.length === 1 ? events[0]! : undefined;
  const matching = only ? (subscription.matches(only.kv.key) ? events : NONE) : events.filter((event) => subscription.matches(event.kv.key));
  if (matching.length > 0) subscription.listener(matching, revision);
}
