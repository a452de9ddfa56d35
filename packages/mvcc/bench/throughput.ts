/**
 * Benchmark (not a test): applied puts per second with 256-byte values, in
 * batches of 1 and 64 entries as the raft apply loop hands them over, with
 * and without client request ids (a full window, so every id'd put also
 * evicts one), and the time of a range over a 10,000-key prefix. Run after
 * building:
 *   node packages/mvcc/dist/bench/throughput.js
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomUUID } from "node:crypto";
import { DEFAULT_REQUEST_ID_WINDOW, MvccStore, prefixRangeEnd, type LogEntry, type RangeRequest } from "../src/index.js";

const VALUE = new Uint8Array(256).fill(0x61);
const DISTINCT_KEYS = 50_000;

async function withStore<T>(use: (store: MvccStore) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), "mvcc-bench-"));
  const store = await MvccStore.open(dir);
  try {
    return await use(store);
  } finally {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Puts over a fixed key set. An untimed first pass writes every key and,
 * with request ids, fills the window: every timed put then overwrites (and
 * reads the previous value for its event) and, with ids, remembers one id
 * and forgets one, as on a busy server.
 */
async function putsPerSecond(batchSize: number, total: number, withRequestIds: boolean): Promise<number> {
  return withStore(async (store) => {
    const entry = (index: number): LogEntry => {
      const key = Buffer.from(`bench/${String(index % DISTINCT_KEYS).padStart(8, "0")}`);
      const request = { op: "put" as const, key, value: VALUE };
      return withRequestIds ? { index, request, requestId: randomUUID() } : { index, request };
    };
    const applyPuts = async (from: number, count: number): Promise<void> => {
      for (let index = from; index < from + count; index += batchSize) {
        await store.applyBatch(Array.from({ length: Math.min(batchSize, from + count - index) }, (_, i) => entry(index + i)));
      }
    };
    const warmUp = Math.max(DISTINCT_KEYS, DEFAULT_REQUEST_ID_WINDOW);
    await applyPuts(1, warmUp);
    const started = performance.now();
    await applyPuts(warmUp + 1, total);
    return total / ((performance.now() - started) / 1000);
  });
}

async function prefixRangeMillis(keyCount: number, rounds: number): Promise<Record<string, number>> {
  return withStore(async (store) => {
    for (let index = 0; index < keyCount; index += 500) {
      const entries: LogEntry[] = [];
      for (let i = index; i < Math.min(index + 500, keyCount); i++) {
        entries.push({ index: i + 1, request: { op: "put", key: Buffer.from(`range/${String(i).padStart(6, "0")}`), value: VALUE } });
      }
      await store.applyBatch(entries);
    }
    const prefix = Buffer.from("range/");
    const request: RangeRequest = { key: prefix, rangeEnd: prefixRangeEnd(prefix) };
    const variants: Record<string, RangeRequest> = {
      "with values": request,
      "keys only": { ...request, keysOnly: true },
      "count only": { ...request, countOnly: true },
      "limit 100": { ...request, limit: 100 },
    };
    const millis: Record<string, number> = {};
    for (const [name, variant] of Object.entries(variants)) {
      if (store.range(variant).count !== keyCount) throw new Error("range returned the wrong count");
      const started = performance.now();
      for (let round = 0; round < rounds; round++) store.range(variant);
      millis[name] = (performance.now() - started) / rounds;
    }
    return millis;
  });
}

const format = (value: number): string => Math.round(value).toLocaleString("en-US");

for (const withRequestIds of [false, true]) {
  const ids = withRequestIds ? ", with request ids" : "";
  console.log(`puts/s, batch of 1${ids}:  ${format(await putsPerSecond(1, 20_000, withRequestIds))}`);
  console.log(`puts/s, batch of 64${ids}: ${format(await putsPerSecond(64, 200_000, withRequestIds))}`);
}
for (const [name, ms] of Object.entries(await prefixRangeMillis(10_000, 20))) {
  console.log(`range over a 10,000-key prefix, ${name}: ${ms.toFixed(2)} ms`);
}
