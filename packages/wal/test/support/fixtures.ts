/** Shared test helpers: entries whose contents are checkable, and temporary directories. */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { after } from "node:test";
import { EntryType, type Entry, type HardState, type SnapshotMeta } from "@raftkv/raft";
import type { RecoveredState } from "../../src/index.js";

/** An entry whose data, length included, follows from its index and term. */
export function entry(index: number, term: number): Entry {
  return { index, term, type: index % 7 === 0 ? EntryType.ConfChange : EntryType.Normal, data: entryData(index, term) };
}

export function entries(first: number, last: number, term: number): Entry[] {
  return Array.from({ length: last - first + 1 }, (_, i) => entry(first + i, term));
}

export function entryData(index: number, term: number): Uint8Array {
  const length = (index * 31 + term * 17) % 300;
  return Uint8Array.from({ length }, (_, i) => (index + term * 13 + i) & 0xff);
}

export function snapshotAt(index: number, term: number): SnapshotMeta {
  return { index, term, conf: { voters: [1, 2, 3], learners: [index % 5] } };
}

/** Recovered state as plain data, so deepStrictEqual compares contents, not classes. */
export function plain(state: { hardState: HardState; snapshot: SnapshotMeta | undefined; entries: readonly Entry[] }): PlainState {
  return {
    hardState: { ...state.hardState },
    snapshot: state.snapshot && { index: state.snapshot.index, term: state.snapshot.term, conf: structuredClone(state.snapshot.conf) },
    entries: plainEntries(state.entries),
  };
}

export function plainEntries(list: readonly Entry[]): PlainEntry[] {
  return list.map((e) => ({ index: e.index, term: e.term, type: e.type, data: Buffer.from(e.data).toString("hex") }));
}

export interface PlainEntry {
  index: number;
  term: number;
  type: EntryType;
  data: string;
}

export interface PlainState {
  hardState: HardState;
  snapshot: SnapshotMeta | undefined;
  entries: PlainEntry[];
}

export function recoveredIndexes(recovered: RecoveredState): number[] {
  return recovered.entries.map((e) => e.index);
}

/** A fresh directory under the system temp dir, removed when the test file ends. */
export async function temporaryDir(cleanup: typeof after): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "raftkv-wal-"));
  cleanup(() => rm(dir, { recursive: true, force: true }));
  return dir;
}
