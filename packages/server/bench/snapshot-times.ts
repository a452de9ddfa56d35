/**
 * Time to create and to install a snapshot of N keys with 256-byte values:
 * export from the MVCC store and write the checksummed file (create); verify
 * the file and import it into an empty store (install).
 * Run: node packages/server/dist/bench/snapshot-times.js [keys...]
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MvccStore, type LogEntry } from "@raftkv/mvcc";
import { readSnapshotFile, writeSnapshotFile } from "@raftkv/snapshot";

const BATCH = 1_000;
const value = new Uint8Array(256).fill(0x61);

async function fill(store: MvccStore, keys: number): Promise<void> {
  for (let start = 0; start < keys; start += BATCH) {
    const entries: LogEntry[] = [];
    for (let i = start; i < Math.min(keys, start + BATCH); i++) {
      entries.push({ index: i + 1, request: { op: "put", key: new TextEncoder().encode(`key/${String(i).padStart(8, "0")}`), value } });
    }
    await store.applyBatch(entries);
  }
}

async function measure(keys: number): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), "raftkv-snapshot-bench-"));
  try {
    const source = await MvccStore.open(join(root, "source"));
    await fill(source, keys);
    const createStarted = performance.now();
    const exported = await source.exportSnapshot();
    const meta = { index: exported.appliedIndex, term: 1, conf: { voters: [1], learners: [] } };
    const summary = await writeSnapshotFile(root, { raft: meta, app: {} }, exported.chunks);
    const createMs = performance.now() - createStarted;
    await source.close();

    const installStarted = performance.now();
    const { chunks } = await readSnapshotFile(summary.path);
    const target = await MvccStore.open(join(root, "target"));
    await target.importSnapshot(chunks);
    const installMs = performance.now() - installStarted;
    const status = await target.status();
    await target.close();
    if (status.keyCount !== keys) throw new Error(`installed ${status.keyCount} keys, expected ${keys}`);
    const mib = (summary.bytes / 1024 / 1024).toFixed(1);
    console.log(`${String(keys).padStart(9)} keys: file ${mib} MiB, create ${(createMs / 1000).toFixed(2)} s, install ${(installMs / 1000).toFixed(2)} s`);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

for (const keys of process.argv.slice(2).map(Number).filter(Boolean).length ? process.argv.slice(2).map(Number) : [100_000, 1_000_000]) {
  await measure(keys);
}
