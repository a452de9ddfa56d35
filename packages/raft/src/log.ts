import { invariant } from "./assert.js";
import type { Storage } from "./storage.js";
import { CompactedError, limitSize } from "./storage.js";
import type { Entry, Snapshot } from "./types.js";

/**
 * The Raft log as one sequence: a durable prefix held by {@link Storage} and
 * an unstable suffix (plus possibly a snapshot) not yet persisted. Entries
 * move from unstable to storage when the application acknowledges a Ready.
 */
export class RaftLog {
  /** Index of the first unstable entry; everything before it is durable. */
  private unstableOffset: number;
  private unstableEntries: Entry[] = [];
  /** A snapshot received from the leader and not yet installed by the application. */
  private unstableSnapshot: Snapshot | undefined;

  committed: number;
  /** Highest index the application has applied (acknowledged through advance). */
  applied: number;

  constructor(
    readonly storage: Storage,
    applied: number,
  ) {
    this.unstableOffset = storage.lastIndex() + 1;
    // The state machine holds at least what the last snapshot holds.
    this.applied = Math.max(applied, storage.snapshot().meta.index);
    invariant(this.applied <= storage.lastIndex(), () => `raft: applied ${this.applied} beyond the log's end ${storage.lastIndex()}`);
    // Only committed entries are ever applied, so the applied index is a commit
    // index too: an application need not sync a hard state whose only change
    // is the commit index.
    this.committed = Math.max(storage.initialState().hardState.commit, this.applied);
  }

  firstIndex(): number {
    return this.unstableSnapshot ? this.unstableSnapshot.meta.index + 1 : this.storage.firstIndex();
  }

  lastIndex(): number {
    if (this.unstableEntries.length > 0) return this.unstableOffset + this.unstableEntries.length - 1;
    if (this.unstableSnapshot) return this.unstableSnapshot.meta.index;
    return this.storage.lastIndex();
  }

  /** Highest index known to be durable and consistent with this log. */
  persistedIndex(): number {
    if (this.unstableSnapshot) return 0;
    return this.unstableOffset - 1;
  }

  /** Term of the entry at `index`, or undefined when it is compacted or beyond the log. */
  term(index: number): number | undefined {
    if (index > this.lastIndex()) return undefined;
    if (index >= this.unstableOffset) return this.unstableEntries[index - this.unstableOffset]?.term;
    if (this.unstableSnapshot) {
      return index === this.unstableSnapshot.meta.index ? this.unstableSnapshot.meta.term : undefined;
    }
    if (index < this.storage.firstIndex() - 1) return undefined;
    return this.storage.term(index);
  }

  lastTerm(): number {
    const term = this.term(this.lastIndex());
    invariant(term !== undefined, "raft: the last entry's term is always known");
    return term;
  }

  matchTerm(index: number, term: number): boolean {
    return this.term(index) === term;
  }

  /** §5.4.1: a candidate's log is at least as up to date as ours. */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const ourTerm = this.lastTerm();
    return lastTerm > ourTerm || (lastTerm === ourTerm && lastIndex >= this.lastIndex());
  }

  /**
   * Follower side of AppendEntries: if our log has (prevIndex, prevTerm),
   * append the new entries (replacing a conflicting suffix) and return the
   * index of the last entry the leader sent; otherwise undefined.
   */
  tryAppend(prevIndex: number, prevTerm: number, leaderCommit: number, entries: readonly Entry[]): number | undefined {
    if (!this.matchTerm(prevIndex, prevTerm)) return undefined;
    const lastNew = prevIndex + entries.length;
    const conflict = this.firstConflict(entries);
    if (conflict !== undefined) {
      invariant(conflict > this.committed, () => `raft: entry ${conflict} conflicts with committed ${this.committed}`);
      this.append(entries.slice(conflict - (prevIndex + 1)));
    }
    this.commitTo(Math.min(leaderCommit, lastNew));
    return lastNew;
  }

  /** Index of the first given entry absent from our log (differing term or beyond the end). */
  private firstConflict(entries: readonly Entry[]): number | undefined {
    for (const entry of entries) {
      if (!this.matchTerm(entry.index, entry.term)) return entry.index;
    }
    return undefined;
  }

  /**
   * The fast back-off of a rejected append: the highest index at or below
   * `index` whose term is at most `term`. Both sides use it to skip a whole
   * conflicting term at a time instead of one entry at a time.
   */
  findConflictByTerm(index: number, term: number): number {
    let candidate = Math.min(index, this.lastIndex());
    for (; candidate > 0; candidate--) {
      const found = this.term(candidate);
      if (found === undefined || found <= term) break;
    }
    return candidate;
  }

  /** Appends entries to the unstable suffix, truncating whatever they replace. */
  append(entries: readonly Entry[]): void {
    const first = entries[0];
    if (first === undefined) return;
    invariant(first.index > this.committed, () => `raft: appending at ${first.index} would overwrite committed ${this.committed}`);
    invariant(first.index <= this.lastIndex() + 1, () => `raft: appending at ${first.index} leaves a gap after ${this.lastIndex()}`);
    if (first.index === this.unstableOffset + this.unstableEntries.length) {
      this.unstableEntries.push(...entries);
    } else if (first.index <= this.unstableOffset) {
      // Replaces part of the durable log: storage will be overwritten from here.
      this.unstableOffset = first.index;
      this.unstableEntries = [...entries];
    } else {
      this.unstableEntries = [...this.unstableEntries.slice(0, first.index - this.unstableOffset), ...entries];
    }
  }

  /** Entries in [lo, hi) limited to maxBytes, or undefined if any was compacted. */
  slice(lo: number, hi: number, maxBytes: number): Entry[] | undefined {
    if (lo >= hi) return [];
    if (lo < this.firstIndex()) return undefined;
    invariant(hi <= this.lastIndex() + 1, () => `raft: slice up to ${hi} beyond last ${this.lastIndex()}`);
    const stableHi = Math.min(hi, this.unstableOffset);
    let entries: Entry[] = [];
    if (lo < stableHi) {
      try {
        entries = this.storage.entries(lo, stableHi, maxBytes);
      } catch (error) {
        if (error instanceof CompactedError) return undefined;
        throw error;
      }
      if (entries.length < stableHi - lo) return entries;
    }
    if (hi > this.unstableOffset) {
      const from = Math.max(lo, this.unstableOffset) - this.unstableOffset;
      entries = entries.concat(this.unstableEntries.slice(from, hi - this.unstableOffset));
    }
    return limitSize(entries, maxBytes);
  }

  commitTo(index: number): void {
    if (index <= this.committed) return;
    invariant(index <= this.lastIndex(), () => `raft: commit ${index} beyond last index ${this.lastIndex()}`);
    this.committed = index;
  }

  /** Leader: commit `index` only if its entry is from the current term (§5.4.2, Figure 8). */
  tryCommit(index: number, currentTerm: number): boolean {
    if (index > this.committed && this.term(index) === currentTerm) {
      this.commitTo(index);
      return true;
    }
    return false;
  }

  /** The Figure 8 bug, kept for proving that the test harness catches it. */
  tryCommitAnyTerm(index: number): boolean {
    if (index <= this.committed) return false;
    this.commitTo(index);
    return true;
  }

  /** Committed, durable entries in (fromExclusive, limit] that are ready to apply. */
  committedToApply(fromExclusive: number, maxBytes: number): Entry[] {
    const hi = Math.min(this.committed, this.persistedIndex());
    if (hi <= fromExclusive) return [];
    return this.slice(fromExclusive + 1, hi + 1, maxBytes) ?? [];
  }

  appliedTo(index: number): void {
    invariant(index <= this.committed, () => `raft: applied ${index} beyond committed ${this.committed}`);
    invariant(index >= this.applied, () => `raft: applied index went back from ${this.applied} to ${index}`);
    this.applied = index;
  }

  unstable(): { entries: readonly Entry[]; snapshot: Snapshot | undefined } {
    return { entries: this.unstableEntries, snapshot: this.unstableSnapshot };
  }

  /** The application has persisted entries up to (index, term). */
  stableTo(index: number, term: number): void {
    // A conflicting append may have replaced these entries meanwhile.
    if (index < this.unstableOffset || this.term(index) !== term) return;
    this.unstableEntries = this.unstableEntries.slice(index + 1 - this.unstableOffset);
    this.unstableOffset = index + 1;
  }

  /** The application has installed the snapshot at `index`. */
  stableSnapshotTo(index: number): void {
    if (this.unstableSnapshot?.meta.index === index) this.unstableSnapshot = undefined;
  }

  /** Replaces the log with a snapshot from the leader. */
  restore(snapshot: Snapshot): void {
    invariant(snapshot.meta.index > this.committed, "raft: restoring a snapshot that is not ahead of commit");
    this.committed = snapshot.meta.index;
    this.unstableOffset = snapshot.meta.index + 1;
    this.unstableEntries = [];
    this.unstableSnapshot = snapshot;
  }

  snapshot(): Snapshot {
    return this.unstableSnapshot ?? this.storage.snapshot();
  }
}
