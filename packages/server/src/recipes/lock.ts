/**
 * A distributed lock on the KV API, as etcd's v3lock: the holder is the
 * first contender of the queue `<name>/`. The returned key is the handle to
 * release it and to guard writes with (a txn comparing its create revision);
 * that create revision is the fencing token, growing with each new holder.
 */
import { GrpcCode, RaftkvError, invalidArgument } from "../errors.js";
import type { KvApi, ResponseHeader, WriteOptions } from "../kv/api.js";
import { rangeRequest, revokeKeyWithLease, sameBytes } from "./kv.js";
import { awaitTurn, joinQueue, leaveOnFailure, leaveQueue, queuePrefix } from "./queue.js";

export interface HeldLock {
  readonly key: Uint8Array;
  /** The lock key's create revision: a fencing token. */
  readonly token: number;
  readonly lease: number;
  readonly header: ResponseHeader;
}

/** Waits until the lock `name` is held under `lease`; gives up its place if `signal` aborts (the client left). */
export async function acquireLock(api: KvApi, name: Uint8Array, lease: number, signal: AbortSignal): Promise<HeldLock> {
  const prefix = queuePrefix(name);
  const ticket = await joinQueue(api, prefix, lease, new Uint8Array());
  const header = await leaveOnFailure(api, ticket, () => awaitTurn(api, prefix, ticket, signal));
  return { key: ticket.key, token: ticket.createRevision, lease, header };
}

/** Releases a lock by deleting its key; the next contender's watch sees the deletion. */
export async function releaseLock(api: KvApi, key: Uint8Array, options?: WriteOptions): Promise<ResponseHeader> {
  return leaveQueue(api, key, options);
}

/**
 * Acquires `name` under a fresh lease of `ttl` seconds, for callers that
 * bring no lease. The caller cannot renew a lease whose id it has not seen
 * yet, so this call keeps it alive while waiting; once held, the lock lasts
 * `ttl` seconds unless the caller renews the lease. On failure the lease is
 * revoked.
 */
export async function acquireLockWithNewLease(api: KvApi, name: Uint8Array, ttl: number, signal: AbortSignal): Promise<HeldLock> {
  const lease = (await api.leaseGrant(ttl, 0)).id;
  const renewal = setInterval(() => void api.leaseKeepAlive(lease).catch(() => undefined), (ttl * 1000) / 3);
  try {
    return await acquireLock(api, name, lease, signal);
  } catch (error) {
    await api.leaseRevoke(lease).catch(() => undefined);
    throw error;
  } finally {
    clearInterval(renewal);
  }
}

/** Releases the lock `name` held with `key` by revoking the holder's lease. */
export async function releaseLockAndLease(api: KvApi, name: Uint8Array, key: Uint8Array): Promise<ResponseHeader> {
  if (!startsWith(key, queuePrefix(name))) throw invalidArgument("that key is not a key of this lock");
  const kv = (await api.range(rangeRequest(key))).kvs[0];
  if (!kv) throw new RaftkvError(GrpcCode.NotFound, "lock not held: the key does not exist (released, or its lease expired)");
  return revokeKeyWithLease(api, kv);
}

function startsWith(bytes: Uint8Array, prefix: Uint8Array): boolean {
  return bytes.byteLength > prefix.byteLength && sameBytes(bytes.subarray(0, prefix.byteLength), prefix);
}
