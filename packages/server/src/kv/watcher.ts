/**
 * One watch: history from the start revision, then live events, with no gap
 * and no duplicate between the two. History reads are synchronous and the
 * live subscription starts before them, so nothing applied meanwhile is
 * missed; events at or below the last delivered revision are dropped.
 */
import { CompactedError, type EventPage, type WatchEvent } from "@raftkv/mvcc";
import type * as api from "./api.js";
import { EventSelection, type WatchHub } from "./watch-hub.js";

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
  const unsubscribe = sources.hub.subscribe(request, (events, revision) => {
    if (!ended) emit(events, events.at(-1)!.kv.modRevision, revision);
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
