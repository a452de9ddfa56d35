/**
 * Leader election on the KV API, as etcd's v3election: candidates queue
 * under `<name>/` exactly as lock contenders do, the leader is the oldest
 * candidate, and its key's value is what it proclaims. A `LeaderKey`
 * (name, key, create revision, lease) proves leadership: proclaim and
 * resign act only while that key still exists with that create revision.
 */
import { etcdError } from "../errors.js";
import type { Event, KeyValue, KvApi, ResponseHeader, WatchRequest, WriteOptions } from "../kv/api.js";
import { compareEqual, deleteRangeRequest, prefixEnd, putRequest, sameBytes } from "./kv.js";
import { awaitTurn, joinQueue, leaveOnFailure, queueHead, queuePrefix } from "./queue.js";
import { watchUpdates } from "./watch.js";

export interface LeaderKey {
  readonly name: Uint8Array;
  readonly key: Uint8Array;
  /** The key's create revision. */
  readonly rev: number;
  readonly lease: number;
}

/** The leader's key-value as some read or watch saw it. */
export interface LeaderView {
  readonly header: ResponseHeader;
  readonly kv: KeyValue;
}

/** What a batch of watch events under the election prefix means for an observer that knows `leader`. */
export type LeaderChange =
  | { readonly kind: "unchanged" }
  /** The leader's key was written: it proclaimed a new value. */
  | { readonly kind: "proclaimed"; readonly kv: KeyValue }
  /** The leader left, or there was none: read the queue's head again. */
  | { readonly kind: "reread" };

/**
 * Waits until this candidate leads. A candidate campaigning again with the
 * same lease keeps its place; if it brings a new value, it proclaims it.
 */
export async function campaign(
  api: KvApi,
  name: Uint8Array,
  lease: number,
  value: Uint8Array,
  signal: AbortSignal,
): Promise<{ header: ResponseHeader; leader: LeaderKey }> {
  const prefix = queuePrefix(name);
  const ticket = await joinQueue(api, prefix, lease, value);
  const leader: LeaderKey = { name, key: ticket.key, rev: ticket.createRevision, lease };
  const header = await leaveOnFailure(api, ticket, async () => {
    if (!sameBytes(ticket.value, value)) await proclaim(api, leader, value);
    return awaitTurn(api, prefix, ticket, signal);
  });
  return { header, leader };
}

/** Sets the leader's value, only while `leader` still holds its key. */
export async function proclaim(api: KvApi, leader: LeaderKey, value: Uint8Array, options?: WriteOptions): Promise<ResponseHeader> {
  const reply = await api.txn(
    {
      compare: [compareEqual(leader.key, "CREATE", leader.rev)],
      success: [{ put: putRequest(leader.key, value, { lease: leader.lease }) }],
      failure: [],
    },
    options,
  );
  if (!reply.succeeded) throw etcdError("electionNotLeader");
  return reply.header;
}

/** Gives up leadership (or a place in the queue); a no-op if `leader` no longer holds its key. */
export async function resign(api: KvApi, leader: LeaderKey, options?: WriteOptions): Promise<ResponseHeader> {
  const reply = await api.txn(
    {
      compare: [compareEqual(leader.key, "CREATE", leader.rev)],
      success: [{ deleteRange: deleteRangeRequest(leader.key) }],
      failure: [],
    },
    options,
  );
  return reply.header;
}

export async function currentLeader(api: KvApi, name: Uint8Array): Promise<LeaderView> {
  const head = await api.range(queueHead(queuePrefix(name)));
  const kv = head.kvs[0];
  if (!kv) throw etcdError("electionNoLeader");
  return { header: head.header, kv };
}

/**
 * Yields the leader's key-value now (if there is a leader) and on every
 * change: a new leader, or a new value proclaimed. Ends when `signal` aborts.
 */
export async function* observeLeader(api: KvApi, name: Uint8Array, signal: AbortSignal): AsyncGenerator<LeaderView> {
  const prefix = queuePrefix(name);
  let shown: KeyValue | undefined;
  while (!signal.aborted) {
    const head = await api.range(queueHead(prefix));
    let leader = head.kvs[0];
    if (leader && !sameWrite(leader, shown)) {
      shown = leader;
      yield { header: head.header, kv: leader };
    }
    // A compacted watch ends the loop below too: reading the head again recovers.
    for await (const update of await watchUpdates(api, watchFrom(prefix, head.header.revision + 1), signal)) {
      if (update.kind !== "events") continue;
      const change = leaderChange(leader, update.events);
      if (change.kind === "reread") break;
      if (change.kind === "proclaimed") {
        leader = change.kv;
        shown = leader;
        yield { header: update.header, kv: leader };
      }
    }
  }
}

/**
 * Follows the leader through a batch of events. Only the leader's own key
 * matters: a new candidate queues behind it, and when the leader leaves,
 * who is next is a question for the store (a reread), not for the events.
 */
export function leaderChange(leader: KeyValue | undefined, events: readonly Event[]): LeaderChange {
  let proclaimed: KeyValue | undefined;
  for (const event of events) {
    if (leader === undefined) return { kind: "reread" };
    if (!sameBytes(event.kv.key, leader.key)) continue;
    if (event.type === "DELETE") return { kind: "reread" };
    proclaimed = event.kv;
  }
  return proclaimed ? { kind: "proclaimed", kv: proclaimed } : { kind: "unchanged" };
}

function sameWrite(a: KeyValue, b: KeyValue | undefined): boolean {
  return b !== undefined && sameBytes(a.key, b.key) && a.modRevision === b.modRevision;
}

function watchFrom(prefix: Uint8Array, startRevision: number): WatchRequest {
  return { key: prefix, rangeEnd: prefixEnd(prefix), startRevision, prevKv: false, noPut: false, noDelete: false, progressNotify: false };
}
