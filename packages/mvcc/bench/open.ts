/**
 * Benchmark (not a test): the CPU of opening an N-key store, counted rather
 * than timed, and the bytes open's scan reads. Each open runs in a child
 * process of its own, so that no open pays for the garbage of the one
 * before. Builds of the store can be compared, opens alternating, after
 * one open each that is not counted (the first open after a load turns
 * LevelDB's log into a table, which later opens do not pay):
 *
 *   node packages/mvcc/dist/bench/open.js build <dir> <keys> [storeModule]
 *   node packages/mvcc/dist/bench/open.js compare <rounds> <dir>=<storeModule> <dir>=<storeModule> ...
 *   node packages/mvcc/dist/bench/open.js reads <dir> [storeModule]
 *   node packages/mvcc/dist/bench/open.js snapshot <dir> [storeModule]
 *
 * `reads` prices what a layout costs reads: the CPU of 2,000 ranges of 100
 * keys with their values, from evenly spread starting keys, after an open;
 * `snapshot` the CPU of exporting the store and of importing the export
 * into an empty store beside it.
 *
 * `storeModule` is the path of an @raftkv/mvcc build's dist/src/index.js
 * (this build's by default); `build` writes 16-byte keys with 256-byte
 * values, 64 puts a batch, as the restart bench loads them.
 */
import { spawnSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { LogEntry, MvccStore } from "../src/index.js";

const VALUE = new Uint8Array(256).fill(0x76);
const BATCH = 64;
const OWN_STORE = fileURLToPath(new URL("../src/index.js", import.meta.url));

const keyAt = (i: number): Uint8Array => Buffer.from(`key-${String(i).padStart(12, "0")}`);

type StoreModule = { MvccStore: typeof MvccStore };

async function loadStore(modulePath: string): Promise<StoreModule> {
  return (await import(pathToFileURL(modulePath).href)) as StoreModule;
}

async function build(dir: string, keys: number, modulePath: string): Promise<void> {
  const { MvccStore } = await loadStore(modulePath);
  const store = await MvccStore.open(dir);
  let index = store.appliedIndex + 1;
  for (let from = 0; from < keys; from += BATCH) {
    const entries: LogEntry[] = [];
    for (let i = from; i < Math.min(from + BATCH, keys); i++) {
      entries.push({ index: index++, request: { op: "put", key: keyAt(i), value: VALUE } });
    }
    await store.applyBatch(entries);
  }
  await store.close();
}

/** In a child: opens the store once and prints the CPU it took and the bytes of each key space. */
async function openOnce(dir: string, modulePath: string): Promise<void> {
  const { MvccStore } = await loadStore(modulePath);
  const before = process.cpuUsage();
  const store = await MvccStore.open(dir);
  const used = process.cpuUsage(before);
  const status = await store.status();
  await store.close();
  console.log(JSON.stringify({ cpuMs: (used.user + used.system) / 1000, keys: status.keyCount, bytesBySpace: await bytesBySpace(dir) }));
}

/** Key and value bytes per one-byte key space, read with a plain LevelDB handle after the store closed. */
async function bytesBySpace(dir: string): Promise<Record<string, number>> {
  const { ClassicLevel } = await import("classic-level");
  const db = new ClassicLevel<Uint8Array, Uint8Array>(dir, { keyEncoding: "view", valueEncoding: "view" });
  const bytes: Record<string, number> = {};
  for await (const [key, value] of db.iterator()) {
    const space = String.fromCharCode(key[0] ?? 0);
    bytes[space] = (bytes[space] ?? 0) + key.byteLength + value.byteLength;
  }
  await db.close();
  return bytes;
}

async function reads(dir: string, modulePath: string): Promise<void> {
  const { MvccStore } = await loadStore(modulePath);
  const store = await MvccStore.open(dir);
  const { keyCount } = await store.status();
  const RANGES = 2_000;
  const before = process.cpuUsage();
  let kvs = 0;
  for (let i = 0; i < RANGES; i++) {
    const start = Math.floor((i * (keyCount - 100)) / RANGES);
    kvs += store.range({ key: keyAt(start), rangeEnd: keyAt(start + 100) }).kvs.length;
  }
  const used = process.cpuUsage(before);
  await store.close();
  console.log(`${((used.user + used.system) / RANGES).toFixed(0)} µs CPU per range of 100 keys with values (${kvs} key-values read)`);
}

async function snapshot(dir: string, modulePath: string): Promise<void> {
  const { MvccStore } = await loadStore(modulePath);
  const source = await MvccStore.open(dir);
  const cpuMs = (since: NodeJS.CpuUsage) => {
    const used = process.cpuUsage(since);
    return ((used.user + used.system) / 1000).toFixed(0);
  };
  let before = process.cpuUsage();
  const chunks: Uint8Array[] = [];
  for await (const chunk of (await source.exportSnapshot()).chunks) chunks.push(chunk);
  const exportMs = cpuMs(before);
  await source.close();
  const targetDir = await mkdtemp(join(tmpdir(), "mvcc-import-"));
  try {
    const target = await MvccStore.open(targetDir);
    before = process.cpuUsage();
    await target.importSnapshot(chunks);
    const importMs = cpuMs(before);
    await target.close();
    const bytes = chunks.reduce((total, chunk) => total + chunk.byteLength, 0);
    console.log(`export ${exportMs} ms CPU, import ${importMs} ms CPU, ${bytes} bytes in ${chunks.length} chunks`);
  } finally {
    await rm(targetDir, { recursive: true, force: true });
  }
}

function openInChild(dir: string, modulePath: string): { cpuMs: number; keys: number; bytesBySpace: Record<string, number> } {
  const child = spawnSync(process.execPath, [fileURLToPath(import.meta.url), "open", dir, modulePath], { encoding: "utf8" });
  if (child.status !== 0) throw new Error(`open of ${dir} failed: ${child.stderr}`);
  return JSON.parse(child.stdout);
}

function compare(rounds: number, stores: readonly string[]): void {
  const pairs = stores.map((pair) => pair.split("=") as [string, string]);
  for (const [dir, modulePath] of pairs) openInChild(dir, modulePath);
  for (let round = 1; round <= rounds; round++) {
    for (const [label, [dir, modulePath]] of pairs.entries()) {
      const { cpuMs, keys, bytesBySpace } = openInChild(dir, modulePath);
      console.log(
        `round ${round} ${String.fromCharCode(65 + label)}: ${cpuMs.toFixed(0)} ms CPU, ${keys} keys, bytes by key space ${JSON.stringify(bytesBySpace)}`,
      );
    }
  }
}

const [command, ...args] = process.argv.slice(2);
if (command === "build") await build(args[0]!, Number(args[1]), args[2] ?? OWN_STORE);
else if (command === "open") await openOnce(args[0]!, args[1] ?? OWN_STORE);
else if (command === "reads") await reads(args[0]!, args[1] ?? OWN_STORE);
else if (command === "snapshot") await snapshot(args[0]!, args[1] ?? OWN_STORE);
else if (command === "compare") compare(Number(args[0]), args.slice(1));
else throw new Error("usage: open.js build <dir> <keys> [storeModule] | compare <rounds> <dir>=<storeModule> ... | reads|snapshot <dir> [storeModule]");
