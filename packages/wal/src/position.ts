import type { HardState, SnapshotMeta } from "@raftkv/raft";
import { EMPTY_HARD_STATE } from "@raftkv/raft";
import { RecordType, type WalRecord } from "./codec.js";

/**
 * Where the log stands, without its entries: enough to validate the next
 * append, and what every segment header repeats so that older segments can
 * be deleted without losing the hard state or the latest snapshot.
 */
export interface WalPosition {
  readonly hardState: HardState;
  /** The latest snapshot marker; undefined until the first one. */
  readonly snapshot: SnapshotMeta | undefined;
  /** Index of the last entry, or of the snapshot when no entry follows it. */
  readonly lastIndex: number;
}

export const INITIAL_POSITION: WalPosition = Object.freeze({
  hardState: EMPTY_HARD_STATE,
  snapshot: undefined,
  lastIndex: 0,
});

export function snapshotIndex(position: WalPosition): number {
  return position.snapshot?.index ?? 0;
}

/**
 * Why `record` cannot follow `position`, or undefined if it can. The WAL
 * refuses such appends; recovery treats such a record as corruption.
 */
export function misfit(position: WalPosition, record: WalRecord): string | undefined {
  const snapshotAt = snapshotIndex(position);
  switch (record.type) {
    case RecordType.SegmentHeader:
      return "a segment header inside a segment";
    case RecordType.Entry: {
      const { index } = record.entry;
      if (index <= snapshotAt) return `entry ${index} is covered by the snapshot at ${snapshotAt}`;
      if (index > position.lastIndex + 1) return `entry ${index} leaves a gap after ${position.lastIndex}`;
      return undefined;
    }
    case RecordType.HardState:
      return undefined;
    case RecordType.SnapshotTaken: {
      const { index } = record.snapshot;
      if (index <= snapshotAt) return `snapshot at ${index} is not newer than the one at ${snapshotAt}`;
      if (index > position.lastIndex) return `snapshot at ${index} is beyond the last entry ${position.lastIndex}`;
      return undefined;
    }
    case RecordType.SnapshotInstalled: {
      const { index } = record.snapshot;
      if (index < snapshotAt) return `installed snapshot at ${index} is older than the one at ${snapshotAt}`;
      return undefined;
    }
  }
}

/**
 * The position after `record`, which must fit (see {@link misfit}). Every
 * entry saved takes this step, so the new position is written out field by
 * field: spreading the old one cost a fifth of a save's instructions.
 */
export function advance(position: WalPosition, record: WalRecord): WalPosition {
  const { hardState, snapshot, lastIndex } = position;
  switch (record.type) {
    case RecordType.SegmentHeader:
      return record.header.position;
    case RecordType.Entry:
      return { hardState, snapshot, lastIndex: record.entry.index };
    case RecordType.HardState:
      return { hardState: record.hardState, snapshot, lastIndex };
    case RecordType.SnapshotTaken:
      return { hardState, snapshot: record.snapshot, lastIndex };
    case RecordType.SnapshotInstalled:
      return { hardState, snapshot: record.snapshot, lastIndex: record.snapshot.index };
  }
}

export function samePosition(a: WalPosition, b: WalPosition): boolean {
  return (
    a.lastIndex === b.lastIndex &&
    a.hardState.term === b.hardState.term &&
    a.hardState.vote === b.hardState.vote &&
    a.hardState.commit === b.hardState.commit &&
    sameSnapshot(a.snapshot, b.snapshot)
  );
}

function sameSnapshot(a: SnapshotMeta | undefined, b: SnapshotMeta | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.index === b.index && a.term === b.term && sameIds(a.conf.voters, b.conf.voters) && sameIds(a.conf.learners, b.conf.learners);
}

function sameIds(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((id, i) => id === b[i]);
}
