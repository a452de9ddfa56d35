import { invariant } from "./assert.js";

/**
 * What the leader knows about one follower's log (Raft §5.3, with the probe /
 * replicate / snapshot flow control of etcd's design).
 */
export enum ProgressState {
  /** The leader does not know where the logs match: one append at a time. */
  Probe = "probe",
  /** The logs match up to `match`: appends are pipelined within a window. */
  Replicate = "replicate",
  /** The follower needs entries the leader has compacted: a snapshot is on its way. */
  Snapshot = "snapshot",
}

/**
 * A ring of the last indexes of appends sent but not yet acknowledged. When it
 * is full the leader stops sending to that follower until acknowledgements arrive.
 */
export class Inflights {
  private readonly lastIndexes: number[] = [];

  constructor(readonly capacity: number) {
    invariant(capacity > 0, "inflight window must hold at least one append");
  }

  get count(): number {
    return this.lastIndexes.length;
  }

  full(): boolean {
    return this.lastIndexes.length >= this.capacity;
  }

  add(lastIndex: number): void {
    invariant(!this.full(), "added an append to a full inflight window");
    const newest = this.lastIndexes[this.lastIndexes.length - 1];
    invariant(newest === undefined || lastIndex > newest, "inflight appends must be sent in index order");
    this.lastIndexes.push(lastIndex);
  }

  /** Frees every append whose last index is at or below the acknowledged one. */
  freeUpTo(acknowledged: number): void {
    let freed = 0;
    while (freed < this.lastIndexes.length && (this.lastIndexes[freed] ?? Infinity) <= acknowledged) freed++;
    this.lastIndexes.splice(0, freed);
  }

  /** Frees the oldest append, whose acknowledgement may have been lost. */
  freeFirst(): void {
    this.lastIndexes.shift();
  }

  reset(): void {
    this.lastIndexes.length = 0;
  }
}

export class Progress {
  /** Highest index known to be durably stored on the follower. */
  match = 0;
  /** Next index to send. */
  next: number;
  state = ProgressState.Probe;
  /** In Probe: an append is out and unanswered, so wait (until a heartbeat reply). */
  probeSent = false;
  /** In Snapshot: the index of the snapshot being sent. */
  pendingSnapshot = 0;
  /** Heard from since the last check-quorum round. */
  recentActive = false;
  readonly inflights: Inflights;

  constructor(next: number, maxInflight: number, readonly isLearner: boolean) {
    this.next = next;
    this.inflights = new Inflights(maxInflight);
  }

  becomeProbe(): void {
    // After a snapshot, the follower has at least the snapshot's entries.
    const floor = this.state === ProgressState.Snapshot ? Math.max(this.match, this.pendingSnapshot) : this.match;
    this.resetState(ProgressState.Probe);
    this.next = floor + 1;
  }

  becomeReplicate(): void {
    this.resetState(ProgressState.Replicate);
    this.next = this.match + 1;
  }

  becomeSnapshot(snapshotIndex: number): void {
    this.resetState(ProgressState.Snapshot);
    this.pendingSnapshot = snapshotIndex;
  }

  private resetState(state: ProgressState): void {
    this.state = state;
    this.probeSent = false;
    this.pendingSnapshot = 0;
    this.inflights.reset();
  }

  /** Records an acknowledgement of everything up to `index`; true if it taught us something. */
  acknowledge(index: number): boolean {
    const updated = index > this.match;
    if (updated) {
      this.match = index;
      this.probeSent = false;
    }
    this.next = Math.max(this.next, index + 1);
    return updated;
  }

  /**
   * Handles a rejected append of the entries after `rejected`. `hint` is the
   * highest index where the logs may match. Returns false for a stale rejection.
   */
  backOff(rejected: number, hint: number): boolean {
    if (this.state === ProgressState.Replicate) {
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, hint + 1), this.match + 1);
    this.probeSent = false;
    return true;
  }

  /** Whether the leader must hold back appends to this follower. */
  isPaused(): boolean {
    switch (this.state) {
      case ProgressState.Probe:
        return this.probeSent;
      case ProgressState.Replicate:
        return this.inflights.full();
      case ProgressState.Snapshot:
        return true;
    }
  }

  /** Updates flow control after an append carrying entries up to `lastIndex` was sent. */
  sentAppend(entryCount: number, lastIndex: number): void {
    if (this.state === ProgressState.Replicate) {
      if (entryCount > 0) {
        this.next = lastIndex + 1;
        this.inflights.add(lastIndex);
      }
    } else if (this.state === ProgressState.Probe) {
      this.probeSent = true;
    }
  }
}
