/**
 * A distributed lock with a fencing token. Contenders queue in create
 * revision order (first come, first served); the holder's token is its
 * key's create revision, which grows with every new holder, so a resource
 * that remembers the highest token it has seen can refuse a holder that
 * lost the lock without knowing it. Raftkv itself checks the token in a txn:
 * `held.guard()` is the compare that holds only while the lock is held.
 *
 * Built on kv, lease and watch rather than the server's /v3/lock route: that
 * route holds an HTTP request open while waiting, so a member's failure
 * would lose the waiter's answer (and maybe grant the lock to nobody who
 * knows), whereas here every step retries on another member and the queue
 * key, tied to the client's own lease, keeps its place.
 */
import type { Bytes } from "../bytes.js";
import type { Client } from "../client.js";
import type { Compare } from "../kv.js";
import type { LeaseKeepAlive } from "../lease.js";
import { HeldPlace, reachHead, stillQueued } from "./queue.js";

export interface LockOptions {
  /** The lease's TTL in seconds when the lock makes its own: how long a crashed holder blocks others. */
  readonly ttl?: number;
  /** A lease session to hold the lock under (it is not revoked on release); by default each acquire makes one. */
  readonly session?: LeaseKeepAlive;
}

export const DEFAULT_LOCK_TTL_SECONDS = 10;

export class Lock {
  constructor(
    private readonly client: Client,
    readonly name: Bytes,
    private readonly options: LockOptions = {},
  ) {}

  /** Waits for the lock (first come, first served); `signal` gives up the place in the queue. */
  async acquire(options: { signal?: AbortSignal } = {}): Promise<HeldLock> {
    const session = this.options.session ?? (await this.client.lease.session(this.options.ttl ?? DEFAULT_LOCK_TTL_SECONDS, options));
    const ownSession = this.options.session === undefined ? session : undefined;
    const ticket = await reachHead(this.client, this.name, session, ownSession, "", options.signal);
    return new HeldLock(this.client, ticket, ownSession, session.lost);
  }
}

export class HeldLock extends HeldPlace {
  /** Grows with every new holder of this lock: pass it to whatever the lock protects. */
  get fencingToken(): number {
    return this.ticket.createRevision;
  }

  /** The txn compare that holds only while this lock is held: add it to writes the lock protects. */
  guard(): Compare {
    return stillQueued(this.ticket);
  }

  /** Releases the lock (if still held) and ends its own lease. */
  async release(): Promise<void> {
    await this.leave();
  }
}
