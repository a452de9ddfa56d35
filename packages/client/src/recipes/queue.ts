/**
 * The fair queue under Lock and Election, in etcd's v3 concurrency layout
 * (so that raftkv's /v3/lock and /v3/election routes and etcd clients see
 * the same queue): each contender owns the key `<name>/<lease in hex>`,
 * bound to its lease; create revisions order the contenders, and the oldest
 * holds. A waiter watches only the contender just ahead of it, so a release
 * wakes one waiter, and a contender whose lease ends leaves by itself.
 */
import { type Bytes, prefixEnd, toBuffer } from "../bytes.js";
import type { Client } from "../client.js";
import { CompactedError, LeaseLostError } from "../errors.js";
import type { Compare, GetOptions } from "../kv.js";
import type { LeaseKeepAlive } from "../lease.js";
import type { KeyValue } from "../wire.js";

/** A contender's place in a queue. */
export interface Ticket {
  readonly key: Buffer;
  /** Orders the queue; for a lock, the fencing token. */
  readonly createRevision: number;
  readonly lease: number;
  /** The revision at which the ticket was read or written: watch from after it. */
  readonly revision: number;
}

export function queuePrefix(name: Bytes): Buffer {
  return Buffer.concat([toBuffer(name), Buffer.from("/")]);
}

/**
 * Takes a place in the queue. The key is created only if absent, so a
 * retried join (or a contender joining again with the same lease) keeps its
 * place and its create revision instead of moving to the back.
 */
export async function joinQueue(client: Client, name: Bytes, lease: number, value: Bytes, signal?: AbortSignal): Promise<Ticket> {
  const key = Buffer.concat([queuePrefix(name), Buffer.from(lease.toString(16))]);
  const reply = await client.kv.txn(
    {
      compare: [{ key, target: "CREATE", result: "EQUAL", createRevision: 0 }],
      success: [{ put: { key, value, lease } }],
      failure: [{ get: { key } }],
    },
    { signal },
  );
  const revision = reply.header.revision;
  if (reply.succeeded) return { key, createRevision: revision, lease, revision };
  const first = reply.responses[0];
  const existing = first && "get" in first ? first.get.kvs[0] : undefined;
  // Between the compare and the read nothing can change (one txn), but the lease may have ended just after.
  if (!existing) throw new LeaseLostError(lease, "the contender key vanished as it joined the queue");
  return { key, createRevision: existing.createRevision, lease, revision };
}

/** The compare that holds while `ticket` still owns its key: guard writes with it. */
export function stillQueued(ticket: Ticket): Compare {
  return { key: ticket.key, target: "CREATE", result: "EQUAL", createRevision: ticket.createRevision };
}

/** Resolves once `ticket` is the oldest contender; throws a LeaseLostError if its key disappears first. */
export async function awaitTurn(client: Client, name: Bytes, ticket: Ticket, signal?: AbortSignal): Promise<number> {
  for (;;) {
    signal?.throwIfAborted();
    const ahead = await client.kv.get(queuePrefix(name), { ...newestUpTo(ticket.createRevision), signal });
    const [own, predecessor] = ahead.kvs;
    if (!own || own.createRevision !== ticket.createRevision || !own.key.equals(ticket.key)) {
      throw new LeaseLostError(ticket.lease, "the contender key was deleted (lease expired or revoked) before its turn came");
    }
    if (!predecessor) return ahead.header.revision;
    await deletionOf(client, predecessor, ahead.header.revision + 1, signal);
  }
}

/** The oldest contender (the holder or leader), with the revision of the read. */
export async function queueHead(client: Client, name: Bytes, signal?: AbortSignal): Promise<{ head: KeyValue | undefined; revision: number }> {
  const prefix = queuePrefix(name);
  const reply = await client.kv.get(prefix, { rangeEnd: prefixEnd(prefix), sort: { target: "CREATE", order: "ASCEND" }, limit: 1, signal });
  return { head: reply.kvs[0], revision: reply.header.revision };
}

/** Leaves the queue (or gives up the lock) if the key is still this ticket's. */
export async function leaveQueue(client: Client, ticket: Ticket): Promise<void> {
  await client.kv.txn({ compare: [stillQueued(ticket)], success: [{ delete: { key: ticket.key } }] });
}

/** The two newest contenders created at or before `createRevision`: the asker itself, then the one just ahead. */
function newestUpTo(createRevision: number): GetOptions {
  return { prefix: true, maxCreateRevision: createRevision, sort: { target: "CREATE", order: "DESCEND" }, limit: 2 };
}

/** Resolves once `kv` is deleted at or after `fromRevision` (at once if compaction hides whether it was: the caller reads again). */
async function deletionOf(client: Client, kv: KeyValue, fromRevision: number, signal?: AbortSignal): Promise<void> {
  const watcher = client.watch.watch(kv.key, { startRevision: fromRevision, noPut: true, signal });
  try {
    for await (const _deletion of watcher) return;
  } catch (error) {
    if (!(error instanceof CompactedError)) throw error;
  } finally {
    watcher.close();
  }
}

/** A signal that a held place was lost, and how to stop watching for it. */
export interface Ownership {
  readonly lost: AbortSignal;
  stop(): void;
}

/**
 * Watches a held ticket: `lost` aborts (with a LeaseLostError) when the
 * session's lease is lost or the key is deleted behind the holder's back.
 * The key's deletion is seen at once; a lease's end is seen at the next
 * renewal at the latest.
 */
export function watchOwnership(client: Client, ticket: Ticket, sessionLost: AbortSignal): Ownership {
  const keyGone = new AbortController();
  const stopped = new AbortController();
  const watcher = client.watch.watch(ticket.key, { startRevision: ticket.revision + 1, noPut: true, signal: stopped.signal });
  void (async () => {
    try {
      for await (const _deletion of watcher) {
        keyGone.abort(new LeaseLostError(ticket.lease, "the key was deleted (released elsewhere, or its lease ended)"));
        return;
      }
    } catch (error) {
      // Compaction hides whether the key went: say lost rather than hold on to a lock that may be gone.
      if (!stopped.signal.aborted) keyGone.abort(new LeaseLostError(ticket.lease, `its key can no longer be watched: ${String(error)}`));
    }
  })();
  const lost = AbortSignal.any([sessionLost, keyGone.signal]);
  // Once lost, nothing more to watch for.
  lost.addEventListener("abort", () => stopped.abort(), { once: true });
  return { lost, stop: () => stopped.abort() };
}

/**
 * Joins the queue and waits for its head: the ticket, read at the revision
 * the wait ended. On any failure, the place is given up and `ownSession`
 * (the lease the contender made for itself, if any) ended.
 */
export async function reachHead(
  client: Client,
  name: Bytes,
  session: LeaseKeepAlive,
  ownSession: LeaseKeepAlive | undefined,
  value: Bytes,
  signal?: AbortSignal,
): Promise<Ticket> {
  let ticket: Ticket | undefined;
  try {
    ticket = await joinQueue(client, name, session.id, value, signal);
    const revision = await awaitTurn(client, name, ticket, signal);
    return { ...ticket, revision };
  } catch (error) {
    // The first error is the one to report; a key left behind goes with its lease.
    await giveUp(client, ticket, ownSession).catch(() => undefined);
    throw error;
  }
}

/** The head of a queue, held: what a held lock and a leadership have in common. */
export class HeldPlace {
  readonly key: Buffer;
  readonly leaseId: number;
  /** Aborts, with a LeaseLostError, if the place is lost while held (lease ended, key deleted). */
  readonly lost: AbortSignal;
  private readonly ownership: Ownership;

  constructor(
    protected readonly client: Client,
    protected readonly ticket: Ticket,
    /** The session to end on leaving, when the holder made it for this place alone. */
    private readonly ownSession: LeaseKeepAlive | undefined,
    sessionLost: AbortSignal,
  ) {
    this.key = ticket.key;
    this.leaseId = ticket.lease;
    this.ownership = watchOwnership(client, ticket, sessionLost);
    this.lost = this.ownership.lost;
  }

  /** Leaves the queue (if still in it) and ends the holder's own session. */
  protected async leave(): Promise<void> {
    this.ownership.stop();
    await giveUp(this.client, this.ticket, this.ownSession);
  }
}

/** Leaves the queue and ends the contender's own session (if revoking fails, the lease still expires once no longer renewed). */
export async function giveUp(client: Client, ticket: Ticket | undefined, ownSession: LeaseKeepAlive | undefined): Promise<void> {
  try {
    if (ticket) await leaveQueue(client, ticket);
  } finally {
    await ownSession?.revoke().catch(() => ownSession.close());
  }
}
