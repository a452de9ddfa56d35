/**
 * Server-Sent Events for the native API's watches: framing, ids that a
 * client resumes after (Last-Event-ID), and keep-alive comments on an idle
 * stream.
 */
import { Readable } from "node:stream";
import type { FastifyReply } from "fastify";
import type { Event, WatchUpdate } from "../kv/api.js";

/** How often an idle stream carries a keep-alive comment. */
const KEEP_ALIVE_INTERVAL_MS = 15_000;

export interface SseMessage {
  readonly event: string;
  readonly data: unknown;
  /** The revision a client resumes after (Last-Event-ID); absent: the last id stands. */
  readonly id?: number;
}

/** A message whose resume point is `revision`. */
export interface RevisionMessage {
  readonly revision: number;
  readonly event: string;
  readonly data: unknown;
}

export const SSE_KEEP_ALIVE = ": keep-alive\n\n";

export function formatSse({ event, data, id }: SseMessage): string {
  return `${id === undefined ? "" : `id: ${id}\n`}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

/**
 * Ids the messages by revision, on the last message of each revision only:
 * one txn can change several keys at one revision, and a client resuming
 * after an id must have seen that revision whole.
 */
export function withRevisionIds(messages: readonly RevisionMessage[]): SseMessage[] {
  return messages.map(({ revision, event, data }, i) => {
    const lastOfRevision = messages[i + 1]?.revision !== revision;
    return lastOfRevision ? { id: revision, event, data } : { event, data };
  });
}

/**
 * Interleaves `comment` whenever `source` stays quiet for `intervalMs`, so
 * that proxies and clients do not give up on an idle stream. The timer
 * lives exactly as long as the stream.
 */
export async function* withKeepAlive(source: AsyncIterable<string>, intervalMs: number, comment = SSE_KEEP_ALIVE): AsyncGenerator<string> {
  const iterator = source[Symbol.asyncIterator]();
  let timer: NodeJS.Timeout | undefined;
  try {
    let next = iterator.next();
    for (;;) {
      const quiet = new Promise<"quiet">((resolve) => (timer = setTimeout(resolve, intervalMs, "quiet")));
      const first = await Promise.race([next, quiet]);
      clearTimeout(timer);
      if (first === "quiet") {
        yield comment;
        continue;
      }
      if (first.done) return;
      yield first.value;
      next = iterator.next();
    }
  } finally {
    clearTimeout(timer);
    // Not awaited: a source waiting for its next item returns only once that wait ends (the client's leaving ends it).
    void iterator.return?.();
  }
}

/** Turns watch updates into SSE text: `describe` for events, then `compacted` ends the stream. */
export async function* sseOfUpdates(updates: AsyncIterable<WatchUpdate>, describe: (events: readonly Event[]) => SseMessage[]): AsyncGenerator<string> {
  for await (const update of updates) {
    if (update.kind === "compacted") yield formatSse({ event: "compacted", data: { compact_revision: update.compactRevision } });
    if (update.kind === "events") yield describe(update.events).map(formatSse).join("");
  }
}

export async function* afterOpening(first: readonly SseMessage[], rest: AsyncIterable<string>): AsyncGenerator<string> {
  // The opening comment flushes the headers, so the client knows the stream is open before any event.
  yield `: watching\n\n${first.map(formatSse).join("")}`;
  yield* rest;
}

export function sendSse(reply: FastifyReply, chunks: AsyncIterable<string>): FastifyReply {
  return reply
    .header("cache-control", "no-cache")
    .header("x-accel-buffering", "no")
    .type("text/event-stream")
    .send(Readable.from(withKeepAlive(chunks, KEEP_ALIVE_INTERVAL_MS)));
}

/** The revision a watch starts at: after the client's Last-Event-ID when it resumes, else the one asked for (0: from now). */
export function startRevisionOf(lastEventId: string | undefined, revision: number | undefined): number {
  return lastEventId === undefined ? (revision ?? 0) : Number(lastEventId) + 1;
}
