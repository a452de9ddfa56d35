/**
 * The dashboard's logic that is not drawing: the keyspace tree's paging and
 * the percentiles it computes from /metrics. The pages themselves are tested
 * in a browser against a real cluster (test/dashboard.test.ts).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { keyLabel, prefixEnd, utf8 } from "../ui/src/bytes.js";
import { listFolder, type Entry } from "../ui/src/keys/tree.js";
import type { RangeOptions, RangeReply } from "../ui/src/kv.js";
import { buckets, parseMetrics, quantileBetween } from "../ui/src/metrics/prometheus.js";

/** An in-memory store answering ranges as etcd does (key order, limit, more), counting the requests. */
function storeOf(keys: readonly string[]) {
  const sorted = keys.map(utf8).sort((a, b) => Buffer.compare(a, b));
  const store = {
    requests: 0,
    async range(key: Uint8Array, options: RangeOptions): Promise<RangeReply> {
      store.requests++;
      const end = options.rangeEnd!;
      // etcd's "\0" range end: every key from `key` on.
      const toTheEnd = end.length === 1 && end[0] === 0;
      const inRange = sorted.filter((candidate) => Buffer.compare(candidate, key) >= 0 && (toTheEnd || Buffer.compare(candidate, end) < 0));
      const limited = options.limit ? inRange.slice(0, options.limit) : inRange;
      const kvs = limited.map((k) => ({ key: k, value: new Uint8Array(), createRevision: 1, modRevision: 1, version: 1, lease: "0" }));
      return { revision: 1, kvs, more: limited.length < inRange.length, count: inRange.length };
    },
  };
  return store;
}

const names = (entries: readonly Entry[]): string[] =>
  entries.map((entry) => (entry.kind === "folder" ? `${keyLabel(entry.prefix)} (folder)` : keyLabel(entry.kv.key)));

test("a folder lists its keys and sub-folders once each, in key order", async () => {
  const store = storeOf(["a", "b/1", "b/2", "c/x/y", "d", "e/"]);
  const page = await listFolder(store.range, new Uint8Array(), 10);
  assert.deepEqual(names(page.entries), ["a", "b/ (folder)", "c/ (folder)", "d", "e/ (folder)"]);
  assert.equal(page.next, undefined);
  const inside = await listFolder(store.range, utf8("c/"), 10);
  assert.deepEqual(names(inside.entries), ["c/x/ (folder)"]);
  // A key may equal its folder's prefix: it is a key of that folder.
  assert.deepEqual(names((await listFolder(store.range, utf8("e/"), 10)).entries), ["e/"]);
});

test("pages continue where the last one stopped, and the last page says there is no more", async () => {
  const store = storeOf(["a", "b/1", "b/2", "c/x/y", "d"]);
  const first = await listFolder(store.range, new Uint8Array(), 2);
  assert.deepEqual(names(first.entries), ["a", "b/ (folder)"]);
  assert.ok(first.next);
  const second = await listFolder(store.range, new Uint8Array(), 2, first.next);
  assert.deepEqual(names(second.entries), ["c/ (folder)", "d"]);
  assert.equal(second.next, undefined);
});

test("a large folder costs one request, not one per key", async () => {
  const store = storeOf(["a", ...Array.from({ length: 5000 }, (_, i) => `big/${String(i).padStart(5, "0")}`), "z"]);
  const page = await listFolder(store.range, new Uint8Array(), 50);
  assert.deepEqual(names(page.entries), ["a", "big/ (folder)", "z"]);
  assert.ok(store.requests <= 3, `${store.requests} requests`);
});

test("a page that ends exactly at the last key says there is no more", async () => {
  const store = storeOf(["a", "b/1"]);
  const page = await listFolder(store.range, new Uint8Array(), 2);
  assert.deepEqual(names(page.entries), ["a", "b/ (folder)"]);
  assert.equal(page.next, undefined);
});

test("prefixEnd covers every key with the prefix, and the whole keyspace for none", () => {
  assert.deepEqual(prefixEnd(utf8("b/")), utf8("b0"));
  assert.deepEqual(prefixEnd(Uint8Array.of(0x61, 0xff)), utf8("b"));
  assert.deepEqual(prefixEnd(new Uint8Array()), Uint8Array.of(0));
});

const scrape = (counts: Record<string, number>, labels = 'route="/v3/kv/put"'): string =>
  Object.entries(counts)
    .map(([le, count]) => `raftkv_http_request_duration_seconds_bucket{le="${le}",${labels}} ${count}`)
    .join("\n");

function assertClose(actual: number | undefined, expected: number): void {
  assert.ok(actual !== undefined && Math.abs(actual - expected) < 1e-12, `${actual} is not ${expected}`);
}

test("percentiles come from the change in a histogram's buckets between two scrapes, summed over labels", () => {
  const before = buckets(parseMetrics(scrape({ "0.001": 100, "0.01": 100, "0.1": 100, "+Inf": 100 })), "raftkv_http_request_duration_seconds");
  const afterText = [
    "# HELP raftkv_http_request_duration_seconds HTTP request latency",
    scrape({ "0.001": 100, "0.01": 150, "0.1": 200, "+Inf": 200 }),
    scrape({ "0.001": 0, "0.01": 0, "0.1": 0, "+Inf": 0 }, 'route="/v3/kv/range"'),
  ].join("\n");
  const after = buckets(parseMetrics(afterText), "raftkv_http_request_duration_seconds");
  // 100 new observations: 50 in (1 ms, 10 ms], 50 in (10 ms, 100 ms].
  assertClose(quantileBetween(before, after, 0.5), 0.01);
  assertClose(quantileBetween(before, after, 0.25), 0.0055);
  assertClose(quantileBetween(before, after, 0.99), 0.0982);
  assert.equal(quantileBetween(after, after, 0.5), undefined, "nothing observed between two equal scrapes");
});

test("a percentile beyond the last finite bucket is that bucket's bound", () => {
  const before = buckets(parseMetrics(scrape({ "0.1": 0, "+Inf": 0 })), "raftkv_http_request_duration_seconds");
  const after = buckets(parseMetrics(scrape({ "0.1": 1, "+Inf": 10 })), "raftkv_http_request_duration_seconds");
  assert.equal(quantileBetween(before, after, 0.99), 0.1);
});
