/**
 * One watch: history from the start revision, then live events, with no gap
 * and no duplicate between the two. History reads are synchronous and the
 * live subscription starts before them, so nothing applied meanwhile is
 * missed; events at or below the last delivered revision are dropped.
 * A watch whose front end shares one delivery among its watches (a gRPC
 * stream) joins, once its history is read, the live group of its interest
 * on that delivery: one hub subscription for the group, and a batch handed
 * to the delivery once for all the members that joined before its events.
 * A watch that asked for progress notifications gets one at each interval
 * in which no events reached it, by whichever path they came.
 */
import { CompactedError, type EventPage, type WatchEvent } from "@raftkv/mvcc";
import type * as api from "./api.js";
import { EventSelection, type WatchHub, audienceName } from "./watch-hub.js";

/** How often a quiet watch that asked for progress notifications gets one (etcd: 10 minutes). */
export const PROGRESS_EVERY_MS = 10_000;

export interface WatchSources {
  readonly request: api.WatchRequest;
  readonly deliver: (update: api.WatchUpdate) => void;
  readonly hub: WatchHub;
  /** Stored events from `from` on; throws CompactedError below the compacted revision. */
  readonly history: (from: number) => EventPage;
  readonly currentRevision: () => number;
  readonly header: (revision: number) => api.ResponseHeader;
}

export function watchHistoryThenLive(sources: WatchSources): api.Watch {
  const { request, deliver } = sources;
  let delivered = request.startRevision > 0 ? request.startRevision - 1 : sources.currentRevision();
  let ended = false;
  const progress = request.progressNotify ? new ProgressNotifications(sources) : undefined;

  const selection = new EventSelection(request);
  /** Events (in revision order, as this watch wants them) past the last delivered revision, up to `latest`. */
  const emit = (events: readonly WatchEvent[], latest: number, revision: number): void => {
    if (latest <= delivered) return;
    const fresh = events.length > 0 && events[0]!.kv.modRevision <= delivered ? events.filter((event) => event.kv.modRevision > delivered) : events;
    delivered = latest;
    if (fresh.length === 0) return;
    progress?.heard();
    deliver(eventsUpdate(sources.header(revision), fresh));
  };

  // The hub hands every watch of the same interest the same selected events: a watch passes them on as they are.
  // A group takes members in revision order: a watch that starts past the current revision has its own subscription.
  const shared = delivered <= sources.currentRevision() ? request.shared : undefined;
  let leave = shared
    ? undefined
    : sources.hub.subscribe(request, (events, revision) => {
        if (!ended) emit(events, events.at(-1)!.kv.modRevision, revision);
      });

  const end = (): void => {
    ended = true;
    leave?.();
    progress?.stop();
  };

  try {
    if (request.startRevision > 0)
      replayHistory(sources, request.startRevision, (events, revision) => emit(selection.select(events), lastRevision(events), revision));
  } catch (error) {
    if (!(error instanceof CompactedError)) {
      end();
      throw error;
    }
    end();
    deliver({ kind: "compacted", header: sources.header(sources.currentRevision()), compactRevision: error.compactRevision });
  }
  // Every event up to the current revision is in the history just read: the group's events after it are this watch's.
  if (shared && !ended) leave = joinLiveGroup(sources, shared, sources.currentRevision(), progress);
  return { cancel: end };
}

/**
 * etcd's progress notifications for one watch: at each interval in which
 * no events reached it, a progress response at the current revision. The
 * events the hub still holds are handed out first, so that a progress
 * never passes an event at or below its revision, nor falls between the
 * events of one revision (the hub hands out a revision's events together).
 */
class ProgressNotifications {
  private quiet = true;
  private stopped = false;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly sources: WatchSources) {
    this.timer = setInterval(() => this.notify(), PROGRESS_EVERY_MS);
    this.timer.unref();
  }

  /** Events reached the watch: no progress at the end of this interval. */
  heard(): void {
    this.quiet = false;
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
  }

  private notify(): void {
    this.sources.hub.deliverPending();
    // The hand-out may have ended the watch (a front end that cancels as events come).
    if (this.quiet && !this.stopped) this.sources.deliver({ kind: "progress", header: this.sources.header(this.sources.currentRevision()) });
    this.quiet = true;
  }
}

function replayHistory(sources: WatchSources, from: number, emit: (events: readonly WatchEvent[], revision: number) => void): void {
  let next = from;
  for (;;) {
    const page = sources.history(next);
    emit(page.events, sources.currentRevision());
    if (page.caughtUp || page.nextRevision <= next) return;
    next = page.nextRevision;
  }
}

/** The newest revision among stored events, in revision order (0 for none): a watch has seen it even when it filtered the events out. */
function lastRevision(events: readonly WatchEvent[]): number {
  return events.at(-1)?.kv.modRevision ?? 0;
}

/**
 * The watches of one interest are handed the same events with the same
 * header: they share one update too, and a front end that sees the same
 * update (or the same events) for many watches can encode it once.
 */
let lastUpdate: Extract<api.WatchUpdate, { kind: "events" }> | undefined;

function eventsUpdate(header: api.ResponseHeader, events: readonly api.Event[]): api.WatchUpdate {
  if (lastUpdate?.header !== header || lastUpdate.events !== events) lastUpdate = { kind: "events", header, events };
  return lastUpdate;
}

/** The live groups of each shared delivery, by interest. */
const liveGroups = new WeakMap<api.SharedDelivery<unknown>, Map<string, LiveGroup>>();

/**
 * Joins `shared.member` to its delivery's group for the interest; it takes events after revision `after`,
 * and tells `progress` when they reach it. Returns how it leaves.
 */
function joinLiveGroup(sources: WatchSources, shared: api.SharedWatch<unknown>, after: number, progress: ProgressNotifications | undefined): () => void {
  const groups = liveGroups.get(shared.delivery) ?? new Map<string, LiveGroup>();
  liveGroups.set(shared.delivery, groups);
  const name = audienceName(sources.request);
  let group = groups.get(name);
  if (!group) {
    group = new LiveGroup(sources, shared.delivery, () => groups.delete(name));
    groups.set(name, group);
  }
  return group.join(shared.member, after, progress);
}

/**
 * The live watches of one shared delivery with one interest: one hub
 * subscription for them all, and each batch handed to the delivery once for
 * every member that joined before its events, so that a put to a key a
 * stream's thousand watches watch is one call, not a thousand. Members that
 * asked for progress notifications are told which batches reached them.
 */
class LiveGroup {
  private readonly members: unknown[] = [];
  /** The revision each member had seen when it joined. Members join as the store's revision grows, so these never decrease. */
  private readonly after: number[] = [];
  /** Each member's progress notifications, if it asked for them. */
  private readonly progress: (ProgressNotifications | undefined)[] = [];
  /** How many members asked for progress notifications: without any, a batch reads no member's. */
  private notified = 0;
  private readonly unsubscribe: () => void;

  constructor(
    /** The first member's: the interest, the hub and the headers are the same for every member. */
    private readonly sources: WatchSources,
    private readonly delivery: api.SharedDelivery<unknown>,
    private readonly emptied: () => void,
  ) {
    this.unsubscribe = sources.hub.subscribe(
      sources.request,
      (events, revision) => this.handOut(events, revision),
      () => this.members.length,
    );
  }

  join(member: unknown, after: number, progress: ProgressNotifications | undefined): () => void {
    this.members.push(member);
    this.after.push(after);
    this.progress.push(progress);
    if (progress) this.notified++;
    return () => this.leave(member);
  }

  private leave(member: unknown): void {
    const place = this.members.indexOf(member);
    if (place < 0) return;
    this.members.splice(place, 1);
    this.after.splice(place, 1);
    if (this.progress.splice(place, 1)[0]) this.notified--;
    if (this.members.length > 0) return;
    this.unsubscribe();
    this.emptied();
  }

  private handOut(events: readonly WatchEvent[], revision: number): void {
    const first = events[0]!.kv.modRevision;
    let before = this.members.length;
    while (before > 0 && this.after[before - 1]! >= first) before--;
    const header = this.sources.header(revision);
    if (before > 0) {
      if (this.notified > 0) for (let i = 0; i < before; i++) this.progress[i]?.heard();
      this.delivery.deliver(this.members, before, header, events);
    }
    // Members that joined after some of these events were applied take the rest, alone.
    for (let i = before; i < this.members.length; i++) {
      const after = this.after[i]!;
      const rest = events.filter((event) => event.kv.modRevision > after);
      if (rest.length === 0) continue;
      this.progress[i]?.heard();
      this.delivery.deliver([this.members[i]], 1, header, rest);
    }
  }
}
