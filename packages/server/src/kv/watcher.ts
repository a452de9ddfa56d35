/**
 * One watch: history from the start revision, then live events, with no gap
 * and no duplicate between the two. History reads are synchronous and the
 * live subscription starts before them, so nothing applied meanwhile is
 * missed; events at or below the last delivered revision are dropped.
 */
import { CompactedError, type EventPage, type WatchEvent } from "@raftkv/mvcc";
import type * as api from "./api.js";
import type { WatchHub } from "./watch-hub.js";

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

  // One pass and one array per watch: a put to a key with a thousand watches runs this a thousand times,
  // so the request's filters are read once, here, not from the request object at every event.
  const { noPut, noDelete, prevKv } = request;
  const emit = (events: readonly WatchEvent[], revision: number): void => {
    let latest = delivered;
    const wanted: api.Event[] = [];
    for (const event of events) {
      if (event.kv.modRevision <= delivered) continue;
      latest = Math.max(latest, event.kv.modRevision);
      if (!(noPut && event.type === "PUT") && !(noDelete && event.type === "DELETE")) wanted.push(shape(prevKv, event));
    }
    if (latest === delivered) return;
    delivered = latest;
    if (wanted.length === 0) return;
    quiet = false;
    deliver({ kind: "events", header: sources.header(revision), events: wanted });
  };

  const unsubscribe = sources.hub.subscribe(request, (events, revision) => {
    if (!ended) emit(events, revision);
  });
  const progress = request.progressNotify ? setInterval(() => notifyProgress(), PROGRESS_EVERY_MS) : undefined;
  progress?.unref();

  const end = (): void => {
    ended = true;
    unsubscribe();
    if (progress) clearInterval(progress);
  };

  function notifyProgress(): void {
    // Events the hub still holds would otherwise follow a progress past their revision.
    sources.hub.deliverPending();
    if (quiet && !ended) deliver({ kind: "progress", header: sources.header(sources.currentRevision()) });
    quiet = true;
  }

  try {
    if (request.startRevision > 0) replayHistory(sources, request.startRevision, emit);
  } catch (error) {
    if (!(error instanceof CompactedError)) {
      end();
      throw error;
    }
    end();
    deliver({ kind: "compacted", header: sources.header(sources.currentRevision()), compactRevision: error.compactRevision });
  }
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

/** The event as the watch asked for it: the same object unless it carries a previous key-value the watch did not ask for. */
function shape(prevKv: boolean, event: WatchEvent): api.Event {
  return prevKv || event.prevKv === undefined ? event : { type: event.type, kv: event.kv };
}
