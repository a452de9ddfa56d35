/**
 * Lease expiry, driven by the leader and carried out through the log. Every
 * member tracks a local deadline per lease from the grants, renewals and
 * checkpoints it applies; only the leader acts on them, proposing a revoke
 * for each expired lease and, periodically, a checkpoint of every lease's
 * remaining time, so that a new leader resumes from there instead of
 * granting every lease its full TTL again (etcd's long-standing bug).
 *
 * Both proposals say which raft index the deadlines were current to
 * (`asOf`): a renewal already in the log but not yet applied when the
 * leader judged would otherwise be undone by a revoke or an older
 * checkpoint behind it. The store skips a lease renewed after `asOf`.
 */
import type { LeaseRecord } from "@raftkv/mvcc";

/** Proposes store requests through Raft; resolves once applied. */
export type LeaseProposer = {
  revoke(id: number, asOf: number): Promise<unknown>;
  checkpoint(checkpoints: readonly { id: number; remainingTtl: number }[], asOf: number): Promise<unknown>;
};

const CHECKPOINT_EVERY_MS = 5_000;

export class LeaseKeeper {
  /** Lease id -> local time (ms) at which it expires. */
  private readonly deadlines = new Map<number, number>();
  private readonly revoking = new Set<number>();
  private lastCheckpoint = 0;
  /** The raft index the deadlines are current to. */
  private asOf = 0;

  constructor(
    private readonly proposer: LeaseProposer,
    private readonly now: () => number = Date.now,
  ) {}

  /** A lease was granted, renewed or checkpointed: it now has `remainingTtl` seconds. */
  extend(id: number, remainingTtl: number): void {
    this.deadlines.set(id, this.now() + remainingTtl * 1000);
  }

  forget(id: number): void {
    this.deadlines.delete(id);
    this.revoking.delete(id);
  }

  /** Every entry up to `index` has been applied and its leases' deadlines taken. */
  caughtUpTo(index: number): void {
    this.asOf = Math.max(this.asOf, index);
  }

  /** On gaining leadership: every lease resumes from its last checkpoint, as the store holds them at `asOf`. */
  resume(leases: readonly LeaseRecord[], asOf: number): void {
    this.deadlines.clear();
    this.revoking.clear();
    for (const lease of leases) this.extend(lease.id, lease.remainingTtl);
    this.lastCheckpoint = this.now();
    this.asOf = asOf;
  }

  /** Seconds left, rounded up, or -1 for an unknown lease (etcd's convention). */
  remaining(id: number): number {
    const deadline = this.deadlines.get(id);
    if (deadline === undefined) return -1;
    return Math.max(0, Math.ceil((deadline - this.now()) / 1000));
  }

  /** Called periodically on the leader. */
  tick(): void {
    const now = this.now();
    for (const [id, deadline] of this.deadlines) {
      if (deadline > now || this.revoking.has(id)) continue;
      this.revoking.add(id);
      // Once applied the lease is forgotten, or lives on renewed; a failed revoke (leader change, timeout) is retried on a later tick.
      const settled = (): boolean => this.revoking.delete(id);
      this.proposer.revoke(id, this.asOf).then(settled, settled);
    }
    if (now - this.lastCheckpoint >= CHECKPOINT_EVERY_MS && this.deadlines.size > 0) {
      this.lastCheckpoint = now;
      const checkpoints = [...this.deadlines].map(([id]) => ({ id, remainingTtl: Math.max(1, this.remaining(id)) }));
      this.proposer.checkpoint(checkpoints, this.asOf).catch(() => undefined);
    }
  }
}
