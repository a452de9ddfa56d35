/**
 * The ordered queue under the lock and election recipes, as etcd's v3lock
 * and v3election build it: each contender owns one key `<name>/<lease-hex>`
 * bound to its lease, create revisions order the contenders, and the one
 * with the lowest holds. A waiter watches only the key just ahead of it, so
 * a release wakes one waiter rather than the whole queue, and a contender
 * whose lease expires leaves the queue by itself.
 */
import { GrpcCode, RaftkvError, invalidArgument } from "../errors.js";
import type { KeyValue, KvApi, RangeRequest, ResponseHeader, WriteOptions } from "../kv/api.js";
import { compareEqual, concatBytes, deleteRangeRequest, firstReadBack, prefixEnd, putRequest, rangeRequest, readBack, sameBytes, utf8 } from "./kv.js";
import { watchUpdates } from "./watch.js";

/** A contender's place in a queue. */
export interface Ticket {
  readonly key: Uint8Array;
  /** Orders the queue; for a lock, the fencing token. */
  readonly createRevision: number;
  readonly lease: number;
  /** The value the key holds (an election's candidate value). */
  readonly value: Uint8Array;
  readonly header: ResponseHeader;
}

/** Where a contender stands, read from the newest keys created at or before its own. */
export type Turn =
  | { readonly kind: "held" }
  | { readonly kind: "wait"; readonly predecessor: KeyValue }
  /** Its key is gone (lease expired or key deleted): it is no longer in the queue. */
  | { readonly kind: "lost" };

export function queuePrefix(name: Uint8Array): Uint8Array {
  return concatBytes(name, utf8("/"));
}

export function contenderKey(prefix: Uint8Array, lease: number): Uint8Array {
  return concatBytes(prefix, utf8(lease.toString(16)));
}

/**
 * Joins the queue with a key bound to `lease`. The key is created only if
 * absent, so a contender asking again with the same lease keeps its place
 * (and its original create revision) instead of moving to the back.
 */
export async function joinQueue(api: KvApi, prefix: Uint8Array, lease: number, value: Uint8Array): Promise<Ticket> {
  // Without a lease, a contender that vanished would hold its place forever.
  if (lease === 0) throw invalidArgument("a lease is required: the lock or candidacy ends when it expires");
  const key = contenderKey(prefix, lease);
  const reply = await api.txn({
    compare: [compareEqual(key, "CREATE", 0)],
    success: [{ put: putRequest(key, value, { lease }) }],
    failure: [readBack(key)],
  });
  if (reply.succeeded) return { key, createRevision: reply.header.revision, lease, value, header: reply.header };
  const existing = firstReadBack(reply.responses);
  if (!existing) throw new RaftkvError(GrpcCode.Internal, "queue: the contender key existed for the compare but not for the read");
  return { key, createRevision: existing.createRevision, lease, value: existing.value, header: reply.header };
}

/** Waits until `ticket` is first in the queue; resolves with the header of the read that saw it first. */
export async function awaitTurn(api: KvApi, prefix: Uint8Array, ticket: Ticket, signal: AbortSignal): Promise<ResponseHeader> {
  for (;;) {
    signal.throwIfAborted();
    const newest = await api.range(queueAheadOf(prefix, ticket.createRevision));
    const turn = turnOf(newest.kvs, ticket);
    if (turn.kind === "held") return newest.header;
    if (turn.kind === "lost") throw sessionExpired();
    // Once the predecessor is gone, whoever was ahead of it may still be there: look again.
    await deletionOf(api, turn.predecessor.key, newest.header.revision + 1, signal);
  }
}

/**
 * Runs `wait` for a contender of the queue; if it fails or is abandoned (the
 * client left), the contender leaves the queue so that the lock or the
 * leadership is not granted later to nobody.
 */
export async function leaveOnFailure<T>(api: KvApi, ticket: Ticket, wait: () => Promise<T>): Promise<T> {
  try {
    return await wait();
  } catch (error) {
    // The first error is the one to report; a key left behind goes with its lease.
    await leaveQueue(api, ticket.key).catch(() => undefined);
    throw error;
  }
}

export async function leaveQueue(api: KvApi, key: Uint8Array, options?: WriteOptions): Promise<ResponseHeader> {
  return (await api.deleteRange(deleteRangeRequest(key), options)).header;
}

/** The query for the queue's head: its oldest contender. */
export function queueHead(prefix: Uint8Array): RangeRequest {
  return rangeRequest(prefix, { rangeEnd: prefixEnd(prefix), sortTarget: "CREATE", sortOrder: "ASCEND", limit: 1 });
}

/** The query for the two newest contenders created at or before `createRevision`: the asker's own key and the one just ahead. */
export function queueAheadOf(prefix: Uint8Array, createRevision: number): RangeRequest {
  return rangeRequest(prefix, {
    rangeEnd: prefixEnd(prefix),
    maxCreateRevision: createRevision,
    sortTarget: "CREATE",
    sortOrder: "DESCEND",
    limit: 2,
  });
}

/** Reads the answer to `queueAheadOf`: newest first, so the asker's own key should come first. */
export function turnOf(newestFirst: readonly KeyValue[], ticket: Pick<Ticket, "key" | "createRevision">): Turn {
  const [own, predecessor] = newestFirst;
  if (own === undefined || own.createRevision !== ticket.createRevision || !sameBytes(own.key, ticket.key)) return { kind: "lost" };
  return predecessor === undefined ? { kind: "held" } : { kind: "wait", predecessor };
}

/** Resolves once `key` is deleted at or after `fromRevision`, or when the watch can no longer tell (compacted, aborted). */
async function deletionOf(api: KvApi, key: Uint8Array, fromRevision: number, signal: AbortSignal): Promise<void> {
  const request = { key, rangeEnd: new Uint8Array(), startRevision: fromRevision, prevKv: false, noPut: true, noDelete: false, progressNotify: false };
  for await (const update of await watchUpdates(api, request, signal)) {
    if (update.kind !== "progress") return;
  }
}

function sessionExpired(): RaftkvError {
  return new RaftkvError(GrpcCode.FailedPrecondition, "concurrency: session expired: the contender's key was deleted before its turn");
}
