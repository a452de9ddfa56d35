/**
 * Appends and fsyncs per second on the real disk, for saves of 1, 16 and
 * 256 entries of 256 bytes made one after another, and for 64 writers of one
 * entry each saving at once (group commit). Run: pnpm --filter @raftkv/wal bench [dir]
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EntryType, type Entry } from "@raftkv/raft";
import { Wal, nodeFileSystem, type WalFile, type WalFileSystem } from "../src/index.js";

const SECONDS_PER_CASE = Number(process.env.WAL_BENCH_SECONDS ?? 3);
const PAYLOAD = new Uint8Array(256).fill(0x61);

/** The real disk, counting syncs: fdatasyncs and durable (O_DSYNC) writes. */
function countingFileSystem(counter: { datasyncs: number }): WalFileSystem {
  const counted = (file: WalFile): WalFile => ({
    write: (data, position) => file.write(data, position),
    datasync: () => {
      counter.datasyncs++;
      return file.datasync();
    },
    writeDurably: (data, position) => {
      counter.datasyncs++;
      return file.writeDurably(data, position);
    },
    truncate: (length) => file.truncate(length),
    close: () => file.close(),
  });
  return {
    ...nodeFileSystem,
    create: async (path) => counted(await nodeFileSystem.create(path)),
    openExisting: async (path) => counted(await nodeFileSystem.openExisting(path)),
  };
}

interface Case {
  readonly name: string;
  readonly writers: number;
  readonly entriesPerSave: number;
}

const CASES: readonly Case[] = [
  { name: "1 entry per save", writers: 1, entriesPerSave: 1 },
  { name: "16 entries per save", writers: 1, entriesPerSave: 16 },
  { name: "256 entries per save", writers: 1, entriesPerSave: 256 },
  { name: "64 writers x 1 entry (group commit)", writers: 64, entriesPerSave: 1 },
];

async function measure(root: string, spec: Case): Promise<string> {
  const counter = { datasyncs: 0 };
  const dir = await mkdtemp(join(root, "case-"));
  const wal = await Wal.open(dir, { fs: countingFileSystem(counter) });
  counter.datasyncs = 0;
  let nextIndex = 1;
  let appended = 0;
  const deadline = performance.now() + SECONDS_PER_CASE * 1000;
  // Each writer takes its indexes when it saves, so concurrent saves stay in order.
  const writer = async (): Promise<void> => {
    while (performance.now() < deadline) {
      const batch: Entry[] = Array.from({ length: spec.entriesPerSave }, () => ({ term: 1, index: nextIndex++, type: EntryType.Normal, data: PAYLOAD }));
      await wal.save({ entries: batch, hardState: { term: 1, vote: 1, commit: 0 } });
      appended += batch.length;
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: spec.writers }, writer));
  const seconds = (performance.now() - started) / 1000;
  await wal.close();
  await rm(dir, { recursive: true, force: true });
  const perSecond = (count: number) =>
    Math.round(count / seconds)
      .toLocaleString("en-US")
      .padStart(9);
  return `${spec.name.padEnd(38)} ${perSecond(appended)} appends/s ${perSecond(counter.datasyncs)} fsyncs/s`;
}

const root = await mkdtemp(join(process.argv[2] ?? tmpdir(), "raftkv-wal-bench-"));
try {
  console.log(`WAL throughput in ${root}, ${SECONDS_PER_CASE} s per case, 256-byte entries`);
  for (const spec of CASES) console.log(await measure(root, spec));
} finally {
  await rm(root, { recursive: true, force: true });
}
