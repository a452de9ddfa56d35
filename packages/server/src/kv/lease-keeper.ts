/**
 * Lease expiry, driven by the leader and carried out through the log. Every
 * member tracks a local deadline per lease from the grants, renewals and
 * checkpoints it applies; only the leader acts on them, proposing a revoke
 * for each expired lease and, periodically, a checkpoint of every lease's
 * remaining time, so that a new leader resumes from there instead of
 * granting every lease its full TTL again (etcd's long-standing bug).
 */
import type { LeaseRecord } from "@raftkv/mvcc";

/** Proposes store requests through Raft; resolves once applied. */
export type LeaseProposer = {
  revoke(id: number): Promise<unknown>;
  checkpoint(checkpoints: readonly { id: number; remainingTtl: number }[]): Promise<unknown>;
};

const CHECKPOINT_EVERY_MS = 5_000;

export class LeaseKeeper {
  /** Lease id -> local time (ms) at which it expires. */
  private readonly deadlines = new Map<number, number>();
  private readonly revoking = new Set<number>();
  private lastCheckpoint = 0;

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

  /** On gaining leadership: every lease resumes from its last checkpoint. */
  resume(leases: readonly LeaseRecord[]): void {
    this.deadlines.clear();
    this.revoking.clear();
    for (const lease of leases) this.extend(lease.id, lease.remainingTtl);
    this.lastCheckpoint = this.now();
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
      // A failed revoke (leader change, timeout) is retried on a later tick.
      this.proposer.revoke(id).catch(() => this.revoking.delete(id));
    }
    if (now - this.lastCheckpoint >= CHECKPOINT_EVERY_MS && this.deadlines.size > 0) {
      this.lastCheckpoint = now;
      const checkpoints = [...this.deadlines].map(([id]) => ({ id, remainingTtl: Math.max(1, this.remaining(id)) }));
      this.proposer.checkpoint(checkpoints).catch(() => undefined);
    }
  }
}
