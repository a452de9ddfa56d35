/**
 * When to compact, in etcd's two modes: `periodic` keeps the history of the
 * last `retentionMs` (the revision the store had that long ago becomes the
 * compaction point), `revision` keeps the last `retain` revisions.
 *
 * The server ticks it with a clock reading and the store's revisions and
 * proposes a compaction through the raft log when it answers one; it never
 * reads a clock itself, so it is deterministic given its inputs.
 */
export type AutoCompactionPolicy =
  | { readonly mode: "periodic"; readonly retentionMs: number }
  | { readonly mode: "revision"; readonly retain: number; readonly checkIntervalMs?: number };

/** etcd checks the revision mode every five minutes. */
const DEFAULT_REVISION_CHECK_MS = 5 * 60 * 1000;

interface Sample {
  readonly at: number;
  readonly revision: number;
}

export class AutoCompactor {
  private samples: Sample[] = [];
  private lastProposalAt = -Infinity;

  constructor(private readonly policy: AutoCompactionPolicy) {}

  /**
   * Records the store's revision at `now` (milliseconds, any monotonic
   * origin) and returns the revision to compact to, if one is due. After
   * answering one it stays quiet for a check interval, so a proposal has
   * time to commit before the next.
   */
  tick(now: number, revision: number, compactRevision: number): number | undefined {
    const target = this.policy.mode === "periodic" ? this.periodicTarget(now, revision, this.policy.retentionMs) : revision - this.policy.retain;
    if (target <= compactRevision || now - this.lastProposalAt < this.checkIntervalMs()) return undefined;
    this.lastProposalAt = now;
    return target;
  }

  /** The newest revision at least one retention period old. */
  private periodicTarget(now: number, revision: number, retentionMs: number): number {
    // A revision's first sighting is what matters, so unchanged revisions add no sample.
    if (this.samples[this.samples.length - 1]?.revision !== revision) this.samples.push({ at: now, revision });
    const old = this.samples.filter((sample) => sample.at <= now - retentionMs);
    // Only the newest old sample can ever be a target again.
    this.samples = this.samples.slice(Math.max(0, old.length - 1));
    return old[old.length - 1]?.revision ?? 0;
  }

  /** etcd's periodic mode acts every tenth of the retention period. */
  private checkIntervalMs(): number {
    return this.policy.mode === "periodic" ? this.policy.retentionMs / 10 : (this.policy.checkIntervalMs ?? DEFAULT_REVISION_CHECK_MS);
  }
}
