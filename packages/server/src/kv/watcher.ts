/**
 * One watch: history from the start revision, then live events, with no gap
 * and no duplicate between the two. History reads are synchronous and the
 * live subscription starts before them, so nothing applied meanwhile is
 * missed; events at or below the last delivered revision are dropped.
 * A watch whose front end shares one delivery among its watches (a gRPC
 * stream) joins, once its history is read, the live group of its interest
 * on that delivery: one hub subscription for the group, and a batch handed
 * to the delivery once for all the members that joined before its events.
 */
import { CompactedError, type EventPage, type WatchEvent } from "@raftkv/mvcc";
import type * as api from "./api.js";
import { EventSelection, type WatchHub, audienceName } from "./watch-hub.js";

/** How often a quiet watch that asked for progress notifications gets one (etcd: 10 minutes). */
const PROGRESS_EVERY_MS = 10_000;

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
  let quiet = true;
  let ended = false;

  const selection = new EventSelection(request);
  /** Events (in revision order, as this watch wants them) past the last delivered revision, up to `latest`. */
  const emit = (events: readonly WatchEvent[], latest: number, revision: number): void => {
    if (latest <= delivered) return;
    const fresh = events.length > 0 && events[0]!.kv.modRevision <= delivered ? events.filter((event) => event.kv.modRevision > delivered) : events;
    delivered = latest;
    if (fresh.length === 0) return;
    quiet = false;
    deliver(eventsUpdate(sources.header(revision), fresh));
  };

  // The hub hands every watch of the same interest the same selected events: a watch passes them on as they are.
  // A shared delivery knows nothing of progress notifications, and its group takes members in revision order:
  // a watch that asked for notifications, or starts past the current revision, has its own subscription.
  const shared = !request.progressNotify && delivered <= sources.currentRevision() ? request.shared : undefined;
  let leave = shared
    ? undefined
    : sources.hub.subscribe(request, (events, revision) => {
        if (!ended) emit(events, events.at(-1)!.kv.modRevision, revision);
      });
  const progress = request.progressNotify ? setInterval(() => notifyProgress(), PROGRESS_EVERY_MS) : undefined;
  progress?.unref();

  const end = (): void => {
    ended = true;
    leave?.();
    if (progress) clearInterval(progress);
  };

  function notifyProgress(): void {
    // Events the hub still holds would otherwise follow a progress past their revision.
    sources.hub.deliverPending();
    if (quiet && !ended) deliver({ kind: "progress", header: sources.header(sources.currentRevision()) });
    quiet = true;
  }

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
  if (shared && !ended) leave = joinLiveGroup(sources, shared, sources.currentRevision());
  return { cancel: end };
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

/** Joins `shared.member` to its delivery's group for the interest; it takes events after revision `after`. Returns how it leaves. */
function joinLiveGroup(sources: WatchSources, shared: api.SharedWatch<unknown>, after: number): () => void {
  const groups = liveGroups.get(shared.delivery) ?? new Map<string, LiveGroup>();
  liveGroups.set(shared.delivery, groups);
  const name = audienceName(sources.request);
  let group = groups.get(name);
  if (!group) {
    group = new LiveGroup(sources, shared.delivery, () => groups.delete(name));
    groups.set(name, group);
  }
  return group.join(shared.member, after);
}

/**
 * The live watches of one shared delivery with one interest: one hub
 * subscription for them all, and each batch handed to the delivery once for
 * every member that joined before its events, so that a put to a key a
 * stream's thousand watches watch is one call, not a thousand.
 */
class LiveGroup {
  private readonly members: unknown[] = [];
  /** The revision each member had seen when it joined. Members join as the store's revision grows, so these never decrease. */
  private readonly after: number[] = [];
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

  join(member: unknown, after: number): () => void {
    this.members.push(member);
    this.after.push(after);
    return () => this.leave(member);
  }

  private leave(member: unknown): void {
    const place = this.members.indexOf(member);
    if (place < 0) return;
    this.members.splice(place, 1);
    this.after.splice(place, 1);
    if (this.members.length > 0) return;
    this.unsubscribe();
    this.emptied();
  }

  private handOut(events: readonly WatchEvent[], revision: number): void {
    const first = events[0]!.kv.modRevision;
    let before = this.members.length;
    while (before > 0 && this.after[before - 1]! >= first) before--;
    const header = this.sources.header(revision);
    if (before > 0) this.delivery.deliver(this.members, before, header, events);
    // Members that joined after some of these events were applied take the rest, alone.
    for (let i = before; i < this.members.length; i++) {
      const after = this.after[i]!;
      const rest = events.filter((event) => event.kv.modRevision > after);
      if (rest.length > 0) this.delivery.deliver([this.members[i]], 1, header, rest);
    }
  }
}
