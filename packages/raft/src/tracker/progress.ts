import { Inflights } from "./inflights.js";

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

  constructor(
    next: number,
    maxInflight: number,
    readonly isLearner: boolean,
  ) {
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
   * An append acknowledged up to `index`: a probe that matched starts
   * pipelining, a snapshot that arrived resumes probing above it, and the
   * window frees what was acknowledged. True if it taught us something.
   */
  appendAccepted(index: number): boolean {
    if (!this.acknowledge(index)) {
      // Nothing new, but a pipelined follower may have freed window room.
      if (this.state === ProgressState.Replicate) this.inflights.freeUpTo(index);
      return false;
    }
    switch (this.state) {
      case ProgressState.Probe:
        this.becomeReplicate();
        break;
      case ProgressState.Snapshot:
        if (this.match >= this.pendingSnapshot) this.becomeProbe();
        break;
      case ProgressState.Replicate:
        this.inflights.freeUpTo(index);
        break;
    }
    return true;
  }

  /**
   * Handles a rejected append of the entries after `rejected`. `hint` is the
   * highest index where the logs may match. A pipelined follower falls back
   * to probing. Returns false for a stale rejection.
   */
  appendRejected(rejected: number, hint: number): boolean {
    if (this.state === ProgressState.Replicate) {
      if (rejected <= this.match) return false;
      this.becomeProbe();
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, hint + 1), this.match + 1);
    this.probeSent = false;
    return true;
  }

  /**
   * The follower answered a heartbeat: it is reachable, so a probe may go
   * again, and a full window whose acknowledgements were lost must not stall forever.
   */
  heartbeatAnswered(): void {
    this.probeSent = false;
    if (this.state === ProgressState.Replicate && this.inflights.full()) this.inflights.freeFirst();
  }

  /** The transport could not deliver: stop pipelining into the void and probe. */
  unreachable(): void {
    if (this.state === ProgressState.Replicate) this.becomeProbe();
  }

  /** The snapshot being sent was delivered (or failed); probe once the follower answers. */
  snapshotReported(delivered: boolean): void {
    if (this.state !== ProgressState.Snapshot) return;
    if (!delivered) this.pendingSnapshot = 0;
    this.becomeProbe();
    // Wait for the follower's answer (or the next heartbeat reply) before probing.
    this.probeSent = true;
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
