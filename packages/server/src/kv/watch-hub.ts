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
 * Subscribers that want the same events (the same range and options) are
 * one audience: a batch is matched and filtered once for all of them, and
 * each gets the same array, which later stages can recognise and share.
 * The hub also tells the store whether anyone wants previous key-values in
 * events, which cost a read per write.
 */
import type { WatchEvent } from "@raftkv/mvcc";

export interface KeyRange {
  readonly key: Uint8Array;
  /** etcd's convention: empty for one key, a zero byte for "everything from key on". */
  readonly rangeEnd: Uint8Array;
}

/** What a watch wants of the events in its range: etcd's watch options that drop or change events. */
export interface Interest extends KeyRange {
  /** etcd's prev_kv: events should carry the key-value each one replaced. */
  readonly prevKv?: boolean;
  readonly noPut?: boolean;
  readonly noDelete?: boolean;
}

export type EventListener = (events: readonly WatchEvent[], revision: number) => void;

/**
 * The events an interest wants, as it wants them: in its range, not
 * filtered out, with a previous key-value only if asked for. A set of
 * events it takes whole comes back as the same array, not a copy.
 */
export class EventSelection {
  private readonly oneKey: boolean;
  private readonly everythingAfter: boolean;
  private readonly key: Uint8Array;
  private readonly rangeEnd: Uint8Array;
  private readonly prevKv: boolean;
  private readonly noPut: boolean;
  private readonly noDelete: boolean;

  constructor(interest: Interest) {
    this.key = interest.key;
    this.rangeEnd = interest.rangeEnd;
    this.oneKey = interest.rangeEnd.byteLength === 0;
    this.everythingAfter = interest.rangeEnd.byteLength === 1 && interest.rangeEnd[0] === 0;
    this.prevKv = interest.prevKv === true;
    this.noPut = interest.noPut === true;
    this.noDelete = interest.noDelete === true;
  }

  /** The events wanted among `events`; the array itself when it wants every one as it is. */
  select(events: readonly WatchEvent[]): readonly WatchEvent[] {
    let chosen: WatchEvent[] | undefined;
    for (let i = 0; i < events.length; i++) {
      const event = events[i]!;
      const wanted = this.wants(event);
      const shaped = wanted ? this.shape(event) : undefined;
      if (chosen === undefined && shaped === event) continue;
      chosen ??= events.slice(0, i);
      if (shaped) chosen.push(shaped);
    }
    return chosen ?? events;
  }

  private wants(event: WatchEvent): boolean {
    if (event.type === "PUT" ? this.noPut : this.noDelete) return false;
    return this.matches(event.kv.key);
  }

  private matches(key: Uint8Array): boolean {
    if (this.oneKey) return key.byteLength === this.key.byteLength && Buffer.compare(key, this.key) === 0;
    if (Buffer.compare(key, this.key) < 0) return false;
    return this.everythingAfter || Buffer.compare(key, this.rangeEnd) < 0;
  }

  /** The same object unless it carries a previous key-value not asked for. */
  private shape(event: WatchEvent): WatchEvent {
    return this.prevKv || event.prevKv === undefined ? event : { type: event.type, kv: event.kv };
  }
}

/**
 * The subscribers of one interest: a pass selects each batch's events once
 * for all of them, and hands every one the same arrays. A thousand watches
 * of one key are one audience.
 */
class Audience {
  private readonly selection: EventSelection;
  subscribers = 0;
  /** The pass the selections are for, and each of its batches' events as this audience wants them. */
  private pass: Pass | undefined;
  private selected: (readonly WatchEvent[])[] = [];

  constructor(
    interest: Interest,
    readonly name: string,
  ) {
    this.selection = new EventSelection(interest);
  }

  eventsOf(pass: Pass, batch: number): readonly WatchEvent[] {
    if (this.pass !== pass) {
      this.pass = pass;
      this.selected = pass.batches.map(({ events }) => this.selection.select(events));
    }
    return this.selected[batch]!;
  }
}

/** One subscriber: what a pass reads for each, kept to one object and its audience. */
class Subscription {
  /** False once unsubscribed: a pass under way skips it. */
  live = true;

  constructor(
    readonly audience: Audience,
    readonly listener: EventListener,
    /** How many watches it stands for (a group of watches subscribes once). */
    readonly watches: () => number,
  ) {}
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
 * About how many watches a turn hands events to (a subscriber standing for
 * more is handed them whole, and ends the turn). A put to a key with a
 * thousand watchers is handed out over several turns, so that requests
 * (the writer's next put) and the peers' messages are read in between
 * rather than after the whole fan-out; batches published meanwhile go out
 * together in the next pass, and each stream joins a watch's revisions
 * into one response.
 */
export const WATCHES_PER_TURN = 128;

const ONE = (): number => 1;

export class WatchHub {
  private readonly subscriptions = new Set<Subscription>();
  private readonly audiences = new Map<string, Audience>();
  private prevKvSubscriptions = 0;
  /** Batches published since the pass under way began. */
  private pending: Published[] = [];
  private pass: Pass | undefined;
  private scheduled = false;

  /** Whether some subscriber wants the previous key-value in events. */
  get wantsPrevKv(): boolean {
    return this.prevKvSubscriptions > 0;
  }

  /** `watches`: how many watches the listener hands the events to, for the hub's share of a turn. */
  subscribe(interest: Interest, listener: EventListener, watches = ONE): () => void {
    const audience = this.audienceOf(interest);
    const subscription = new Subscription(audience, listener, watches);
    const prevKv = interest.prevKv === true;
    this.subscriptions.add(subscription);
    audience.subscribers++;
    if (prevKv) this.prevKvSubscriptions++;
    return () => {
      subscription.live = false;
      if (!this.subscriptions.delete(subscription)) return;
      if (prevKv) this.prevKvSubscriptions--;
      if (--audience.subscribers === 0) this.audiences.delete(audience.name);
    };
  }

  private audienceOf(interest: Interest): Audience {
    const name = audienceName(interest);
    let audience = this.audiences.get(name);
    if (!audience) {
      audience = new Audience(interest, name);
      this.audiences.set(name, audience);
    }
    return audience;
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
      this.handOut(WATCHES_PER_TURN);
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
    for (let left = budget; left > 0; ) {
      this.pass ??= this.nextPass();
      const pass = this.pass;
      if (!pass) return;
      const subscription = pass.subscribers[pass.next++]!;
      if (pass.next === pass.subscribers.length) this.pass = undefined;
      // Gone since the pass began: it was canceled.
      if (!subscription.live) {
        left--;
        continue;
      }
      left -= subscription.watches();
      handTo(pass, subscription);
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

function handTo(pass: Pass, subscription: Subscription): void {
  const { batches } = pass;
  for (let i = 0; i < batches.length; i++) {
    const events = subscription.audience.eventsOf(pass, i);
    if (events.length > 0) subscription.listener(events, batches[i]!.revision);
  }
}

/** Interests with the same name want the same events. */
export function audienceName({ key, rangeEnd, prevKv, noPut, noDelete }: Interest): string {
  const flags = `${prevKv === true ? "p" : ""}${noPut === true ? "P" : ""}${noDelete === true ? "D" : ""}`;
  return `${hex(key)}/${hex(rangeEnd)}/${flags}`;
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");
}
