import { invariant } from "./assert.js";
import type { ConfState, Entry, HardState, Snapshot } from "./types.js";
import { EMPTY_HARD_STATE } from "./types.js";

/** Asked for entries that a snapshot has replaced. */
export class CompactedError extends Error {
  override readonly name = "CompactedError";
  constructor(index: number, firstIndex: number) {
    super(`raft: index ${index} is compacted (first available is ${firstIndex})`);
  }
}

/** The snapshot is being prepared; the leader tries again later. */
export class SnapshotUnavailableError extends Error {
  override readonly name = "SnapshotUnavailableError";
  constructor() {
    super("raft: snapshot is temporarily unavailable");
  }
}

/**
 * The durable part of the log, as raft reads it. Everything here has been
 * persisted by the application; raft only reads it, synchronously.
 */
export interface Storage {
  initialState(): { hardState: HardState; confState: ConfState };
  /** Entries in [lo, hi), at least one if any, then as many as fit in maxBytes. */
  entries(lo: number, hi: number, maxBytes: number): Entry[];
  /** Term of the entry at `index`; the snapshot's own index answers with its term. */
  term(index: number): number;
  firstIndex(): number;
  lastIndex(): number;
  snapshot(): Snapshot;
}

export const EMPTY_CONF: ConfState = Object.freeze({ voters: [], learners: [] });

function entrySize(entry: Entry): number {
  // Fixed overhead of term, index and type plus the payload.
  return 24 + entry.data.byteLength;
}

/** Takes entries from the front while they fit in maxBytes; always at least one. */
export function limitSize(entries: Entry[], maxBytes: number): Entry[] {
  let total = 0;
  for (let i = 0; i < entries.length; i++) {
    total += entrySize(entries[i] as Entry);
    if (i > 0 && total > maxBytes) return entries.slice(0, i);
  }
  return entries;
}

/**
 * Storage in memory. The server keeps its recovered WAL here; the simulator
 * uses it as each node's disk. The log starts after a compaction point whose
 * index and term are remembered, so the term of the entry just before the
 * first retained one is always known. The latest snapshot may lie above the
 * compaction point: a tail of entries is kept for followers slightly behind.
 */
export class MemoryStorage implements Storage {
  private hardState: HardState = EMPTY_HARD_STATE;
  private lastSnapshot: Snapshot = { meta: { index: 0, term: 0, conf: EMPTY_CONF }, data: new Uint8Array() };
  private compactedIndex = 0;
  private compactedTerm = 0;
  private log: Entry[] = [];

  initialState(): { hardState: HardState; confState: ConfState } {
    return { hardState: this.hardState, confState: this.lastSnapshot.meta.conf };
  }

  setHardState(state: HardState): void {
    this.hardState = state;
  }

  firstIndex(): number {
    return this.compactedIndex + 1;
  }

  lastIndex(): number {
    return this.compactedIndex + this.log.length;
  }

  term(index: number): number {
    if (index === this.compactedIndex) return this.compactedTerm;
    if (index < this.compactedIndex) throw new CompactedError(index, this.firstIndex());
    const entry = this.log[index - this.compactedIndex - 1];
    invariant(entry !== undefined, () => `raft: term of index ${index} beyond last ${this.lastIndex()}`);
    return entry.term;
  }

  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    if (lo <= this.compactedIndex) throw new CompactedError(lo, this.firstIndex());
    invariant(hi <= this.lastIndex() + 1, () => `raft: entries up to ${hi} beyond last ${this.lastIndex()}`);
    return limitSize(this.log.slice(lo - this.compactedIndex - 1, hi - this.compactedIndex - 1), maxBytes);
  }

  snapshot(): Snapshot {
    return this.lastSnapshot;
  }

  /** Appends entries, replacing any existing suffix they conflict with. */
  append(entries: readonly Entry[]): void {
    const first = entries[0];
    if (first === undefined) return;
    invariant(first.index <= this.lastIndex() + 1, () => `raft: append at ${first.index} leaves a gap after ${this.lastIndex()}`);
    // Entries already compacted away are committed and identical: skip them.
    const fresh = entries.filter((entry) => entry.index > this.compactedIndex);
    const start = fresh[0];
    if (start === undefined) return;
    this.log.length = start.index - this.compactedIndex - 1;
    this.log.push(...fresh);
  }

  /** Replaces the whole log with a snapshot received from the leader. */
  applySnapshot(snapshot: Snapshot): void {
    invariant(snapshot.meta.index >= this.lastSnapshot.meta.index, "raft: applying a snapshot older than the current one");
    this.lastSnapshot = snapshot;
    this.compactedIndex = snapshot.meta.index;
    this.compactedTerm = snapshot.meta.term;
    this.log = [];
  }

  /** Records a snapshot of the local state machine taken at applied index `index`. */
  createSnapshot(index: number, conf: ConfState, data: Uint8Array): Snapshot {
    invariant(index > this.lastSnapshot.meta.index, () => `raft: snapshot at ${index} is not newer than the last`);
    invariant(index <= this.hardState.commit, () => `raft: snapshot at ${index} beyond commit ${this.hardState.commit}`);
    this.lastSnapshot = { meta: { index, term: this.term(index), conf }, data };
    return this.lastSnapshot;
  }

  /**
   * Releases entries up to and including `index`. It must not pass the last
   * snapshot, whose configuration describes everything before it.
   */
  compact(index: number): void {
    if (index <= this.compactedIndex) return;
    invariant(index <= this.lastSnapshot.meta.index, () => `raft: compacting to ${index} passes the snapshot`);
    this.compactedTerm = this.term(index);
    this.log = this.log.slice(index - this.compactedIndex);
    this.compactedIndex = index;
  }
}
