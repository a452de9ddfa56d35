/**
 * Benchmark (not a test): where a store's memory goes per key, without
 * timing anything. Puts N keys (16-byte keys, 256-byte values, batches of 100
 * entries as the apply loop hands them over), waits for LevelDB to have them,
 * collects garbage and reads V8's heap, Buffers outside it and RSS; then
 * overwrites every key once to price a second revision; then reopens the
 * store to price the index as open rebuilds it. Run after building:
 *   node --expose-gc packages/mvcc/dist/bench/memory.js [10000,100000]
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MvccStore, type LogEntry } from "../src/index.js";

const VALUE = new Uint8Array(256).fill(0x76);
const BATCH = 100;

interface Usage {
  /** Live objects on V8's heap. */
  readonly heap: number;
  /** V8's heap as committed: live objects and the free space V8 keeps. */
  readonly heapTotal: number;
  readonly external: number;
  readonly rss: number;
}

function usage(): Usage {
  const collect = (globalThis as { gc?: () => void }).gc;
  if (!collect) throw new Error("run with node --expose-gc");
  collect();
  collect();
  const { heapUsed, heapTotal, external, rss } = process.memoryUsage();
  return { heap: heapUsed, heapTotal, external, rss };
}

async function putAll(store: MvccStore, keys: number, firstIndex: number): Promise<number> {
  let index = firstIndex;
  for (let from = 0; from < keys; from += BATCH) {
    const entries: LogEntry[] = [];
    for (let i = from; i < Math.min(from + BATCH, keys); i++) {
      entries.push({ index: index++, request: { op: "put", key: Buffer.from(`key-${String(i).padStart(12, "0")}`), value: VALUE } });
    }
    await store.applyBatch(entries);
  }
  return index;
}

const perKey = (after: Usage, before: Usage, keys: number): string =>
  (["heap", "heapTotal", "external", "rss"] as const).map((field) => `${field} ${((after[field] - before[field]) / keys).toFixed(0)}`).join(", ");

async function measure(keys: number): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "mvcc-memory-"));
  try {
    let store = await MvccStore.open(dir);
    const empty = usage();
    let index = await putAll(store, keys, 1);
    await store.hash(); // waits for the writes behind
    const one = usage();
    index = await putAll(store, keys, index);
    await store.hash();
    const two = usage();
    await store.close();
    store = await MvccStore.open(dir);
    const reopened = usage();
    await store.close();
    console.log(
      `${keys} keys, bytes per key: 1 revision: ${perKey(one, empty, keys)}; 2nd revision: ${perKey(two, one, keys)}; reopened with 2: ${perKey(reopened, empty, keys)}`,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

for (const keys of (process.argv[2] ?? "10000,100000").split(",").map(Number)) await measure(keys);
