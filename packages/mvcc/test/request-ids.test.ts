/**
 * The request id window: a write carrying a client request id applies once
 * while the window holds the id, answers retries with its first outcome, and
 * the window is replicated state (same decisions in any batching, across
 * reopen and snapshot export/import).
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { ClassicLevel } from "classic-level";
import { MAX_REQUEST_ID_LENGTH, type ApplyResult, type LogEntry, type PutOp } from "../src/index.js";
import { applyOne, bytes, Harness, kvText, plain } from "./support/harness.js";

const put = (key: string, value: string, fields: Partial<PutOp> = {}): PutOp => ({ op: "put", key: bytes(key), value: bytes(value), ...fields });
const statuses = (results: readonly ApplyResult[]): string[] => results.map((result) => result.status);

function firstOf(result: ApplyResult): unknown {
  assert.ok(result.status === "duplicate", `expected a duplicate, got ${result.status}`);
  return plain(result.first);
}

/** The first outcome a retry must be answered with: the first result without its events. */
function outcomeOf(result: ApplyResult): unknown {
  if (result.status === "applied") return plain({ status: result.status, index: result.index, response: result.response });
  return plain(result);
}

async function storedRequestIds(h: Harness): Promise<number> {
  await h.store.close();
  const db = new ClassicLevel<string, string>(h.dir);
  let count = 0;
  for await (const _ of db.keys({ gte: "q", lt: "r" })) count++;
  await db.close();
  await h.reopen();
  return count;
}

describe("a write with a request id applies once", () => {
  let h: Harness;
  before(async () => (h = await Harness.open()));
  after(() => h.close());

  test("a retry changes nothing and answers with the first response", async () => {
    const first = await h.apply(put("k", "one", { prevKv: true }), "req-1");
    await h.apply(put("k", "two", { prevKv: true }), "req-2");
    const retry = await h.apply(put("k", "one", { prevKv: true }), "req-1");
    assert.deepEqual(firstOf(retry), outcomeOf(first));
    assert.deepEqual([h.store.revision, kvText(h.store.range({ key: bytes("k") }).kvs[0]!).version], [3, 2]);
    assert.equal(h.store.appliedIndex, 3);
  });

  test("a retry in the same batch as the first attempt is a duplicate too", async () => {
    const other = await Harness.open();
    try {
      const entries: LogEntry[] = [1, 2, 3].map((index) => ({ index, request: put("b", "x"), requestId: "req-batch" }));
      const results = await other.store.applyBatch(entries);
      assert.deepEqual(statuses(results), ["applied", "duplicate", "duplicate"]);
      assert.deepEqual(firstOf(results[2]!), outcomeOf(results[0]!));
    } finally {
      await other.close();
    }
  });

  let rejectedIndex = 0;

  test("a rejected first attempt answers every retry with the same rejection, even once the request would succeed", async () => {
    const first = await h.apply(put("late", "", { ignoreValue: true }), "req-rejected");
    assert.equal(first.status, "rejected");
    rejectedIndex = first.index;
    await h.apply(put("late", "now it exists"));
    const retry = await h.apply(put("late", "", { ignoreValue: true }), "req-rejected");
    assert.deepEqual(firstOf(retry), { status: "rejected", index: rejectedIndex, error: { error: "etcdserver: key not found" } });
  });

  test("a compacted rejection keeps its compact revision", async () => {
    await h.apply({ op: "compact", revision: 3 });
    const first = await h.apply({ op: "compact", revision: 2 }, "req-compact");
    const retry = await h.apply({ op: "compact", revision: 2 }, "req-compact");
    assert.ok(first.status === "rejected" && retry.status === "duplicate" && retry.first.status === "rejected");
    assert.deepEqual([retry.first.error.name, (retry.first.error as { compactRevision?: number }).compactRevision], ["CompactedError", 3]);
  });

  test("an id reused for a different request is refused, and the first request's retries still dedupe", async () => {
    const revision = h.store.revision;
    const reused = await h.apply(put("k", "something else"), "req-1");
    assert.ok(reused.status === "rejected");
    assert.equal(reused.error.message, "raftkv: the request id was already used for a different request");
    assert.equal((await h.apply(put("k", "one", { prevKv: true }), "req-1")).status, "duplicate");
    assert.equal(h.store.revision, revision);
  });

  test("empty and overlong ids are refused", async () => {
    const revision = h.store.revision;
    for (const id of ["", "x".repeat(MAX_REQUEST_ID_LENGTH + 1)]) {
      const result = await h.apply(put("k", "bad id"), id);
      assert.ok(result.status === "rejected");
      assert.equal(result.error.message, `raftkv: a request id must be 1 to ${MAX_REQUEST_ID_LENGTH} characters`);
    }
    assert.equal((await h.apply(put("long-id", "v"), "x".repeat(MAX_REQUEST_ID_LENGTH))).status, "applied");
    assert.equal(h.store.revision, revision + 1);
  });

  test("the window and its outcomes survive a reopen", async () => {
    const first = await h.apply(put("durable", "v", { prevKv: true }), "req-durable");
    await h.reopen();
    assert.deepEqual(firstOf(await h.apply(put("durable", "v", { prevKv: true }), "req-durable")), outcomeOf(first));
    assert.deepEqual(firstOf(await h.apply(put("late", "", { ignoreValue: true }), "req-rejected")), {
      status: "rejected",
      index: rejectedIndex,
      error: { error: "etcdserver: key not found" },
    });
  });
});

describe("the window forgets by count, in apply order", () => {
  const window = 3;
  /** Ids a, b, c, d, then retries of a (forgotten: applies again, and pushes b out), b (applies again) and d (remembered). */
  const log: LogEntry[] = ["a", "b", "c", "d", "a", "b", "d"].map((id, i) => ({ index: i + 1, request: put("counter", id), requestId: id }));
  const expected = ["applied", "applied", "applied", "applied", "applied", "applied", "duplicate"];

  test("ids older than the last `requestIdWindow` are applied again; LevelDB keeps only the window", async () => {
    const h = await Harness.open({ requestIdWindow: window });
    try {
      assert.deepEqual(statuses(await h.store.applyBatch(log)), expected);
      assert.equal(kvText(h.store.range({ key: bytes("counter") }).kvs[0]!).version, 6);
      assert.equal(await storedRequestIds(h), window);
      await applyOne(h.store, 8, put("no id", "v"));
      assert.equal(await storedRequestIds(h), window);
    } finally {
      await h.close();
    }
  });

  test("replicas decide the same whatever their batches, reopens and snapshot installs", async () => {
    const [whole, source, target] = await Promise.all([1, 2, 3].map(() => Harness.open({ requestIdWindow: window })));
    try {
      assert.deepEqual(statuses(await whole!.store.applyBatch(log)), expected);
      const oneByOne: string[] = [];
      for (const entry of log.slice(0, 3)) oneByOne.push(...statuses(await source!.store.applyBatch([entry])));
      await source!.reopen();
      await target!.store.importSnapshot((await source!.store.exportSnapshot()).chunks);
      for (const entry of log.slice(3)) oneByOne.push(...statuses(await target!.store.applyBatch([entry])));
      assert.deepEqual(oneByOne, expected);
      assert.deepEqual(await target!.store.hash(), await whole!.store.hash());
    } finally {
      await Promise.all([whole, source, target].map((h) => h!.close()));
    }
  });

  test("a store reopened with a smaller window drops its oldest ids, in LevelDB too", async () => {
    const h = await Harness.open({ requestIdWindow: window });
    try {
      await h.store.applyBatch(log.slice(0, 3));
      await h.reopen({ requestIdWindow: 1 });
      assert.equal(await storedRequestIds(h), 1);
      const retries = log.slice(0, 3).map((entry, i) => ({ ...entry, index: 4 + i }));
      assert.deepEqual(statuses(await h.store.applyBatch(retries)), ["applied", "applied", "applied"]);
    } finally {
      await h.close();
    }
  });
});
