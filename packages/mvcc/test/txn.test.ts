import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { Compare, TxnOp } from "../src/index.js";
import { bytes, Harness, keysOf, kvText } from "./support/harness.js";

const put = (key: string, value = "x"): TxnOp => ({ op: "put", key: bytes(key), value: bytes(value) });
const del = (key: string, rangeEnd?: string): TxnOp =>
  rangeEnd === undefined ? { op: "deleteRange", key: bytes(key) } : { op: "deleteRange", key: bytes(key), rangeEnd: bytes(rangeEnd) };
const get = (key: string, rangeEnd?: string): TxnOp =>
  rangeEnd === undefined ? { op: "range", key: bytes(key) } : { op: "range", key: bytes(key), rangeEnd: bytes(rangeEnd) };
const nested = (success: TxnOp[], failure: TxnOp[] = [], compare: Compare[] = []): TxnOp => ({
  op: "txn",
  compare,
  success,
  failure,
});

describe("txn compares", () => {
  let h: Harness;
  before(async () => {
    h = await Harness.open();
    await h.ok({ op: "leaseGrant", ttl: 60, id: 9 });
    await h.put("a", "apple", 9); // revision 2
    await h.put("b", "banana"); // revision 3
    await h.put("b", "blueberry"); // revision 4
  });
  after(() => h.close());

  const holds = async (compare: Compare): Promise<boolean> => (await h.ok({ op: "txn", compare: [compare] })).succeeded;

  test("each target against each result", async () => {
    const b = bytes("b");
    assert.equal(await holds({ key: b, target: "VERSION", result: "EQUAL", version: 2 }), true);
    assert.equal(await holds({ key: b, target: "VERSION", result: "GREATER", version: 1 }), true);
    assert.equal(await holds({ key: b, target: "CREATE", result: "EQUAL", createRevision: 3 }), true);
    assert.equal(await holds({ key: b, target: "MOD", result: "LESS", modRevision: 4 }), false);
    assert.equal(await holds({ key: b, target: "MOD", result: "NOT_EQUAL", modRevision: 3 }), true);
    assert.equal(await holds({ key: b, target: "VALUE", result: "GREATER", value: bytes("banana") }), true);
    assert.equal(await holds({ key: bytes("a"), target: "LEASE", result: "EQUAL", lease: 9 }), true);
  });

  test("a missing key compares as zeros, but never holds a VALUE compare", async () => {
    const missing = bytes("missing");
    assert.equal(await holds({ key: missing, target: "VERSION", result: "EQUAL", version: 0 }), true);
    assert.equal(await holds({ key: missing, target: "CREATE", result: "LESS", createRevision: 1 }), true);
    assert.equal(await holds({ key: missing, target: "VALUE", result: "NOT_EQUAL", value: bytes("x") }), false);
    assert.equal(await holds({ key: missing, target: "VALUE", result: "EQUAL" }), false);
  });

  test("a compare over a range must hold for every key in it", async () => {
    const range = { key: bytes("a"), rangeEnd: bytes("c") };
    assert.equal(await holds({ ...range, target: "MOD", result: "LESS", modRevision: 4 }), false);
    assert.equal(await holds({ ...range, target: "MOD", result: "LESS", modRevision: 5 }), true);
  });

  test("the failure branch runs when a compare fails", async () => {
    const response = await h.ok({
      op: "txn",
      compare: [{ key: bytes("a"), target: "VALUE", result: "EQUAL", value: bytes("pear") }],
      success: [put("never")],
      failure: [get("a")],
    });
    assert.equal(response.succeeded, false);
    assert.deepEqual(
      response.responses.map((r) => r.op),
      ["range"],
    );
    assert.equal(h.store.range({ key: bytes("never") }).count, 0);
  });
});

describe("txn execution", () => {
  let h: Harness;
  before(async () => (h = await Harness.open()));
  after(() => h.close());

  test("all writes of a txn share one revision, with sub-revisions in order", async () => {
    await h.put("old", "o"); // revision 2
    const response = await h.ok({ op: "txn", success: [put("t1"), put("t2"), del("old")] });
    assert.equal(response.revision, 3);
    assert.deepEqual(
      response.events.map((event) => [event.type, kvText(event.kv).key, event.kv.modRevision]),
      [
        ["PUT", "t1", 3],
        ["PUT", "t2", 3],
        ["DELETE", "old", 3],
      ],
    );
  });

  test("reads inside a txn see its earlier writes and report the txn's revision", async () => {
    const response = await h.ok({ op: "txn", success: [put("t3"), get("t", "u")] });
    const range = response.responses[1]!;
    assert.ok(range.op === "range");
    assert.deepEqual([keysOf(range.kvs), range.revision], [["t1", "t2", "t3"], 4]);
  });

  test("a txn that writes nothing leaves the revision alone", async () => {
    assert.equal((await h.ok({ op: "txn", success: [get("t1")] })).revision, 4);
    assert.equal((await h.ok({ op: "txn", success: [del("missing")] })).revision, 4);
    assert.equal(h.store.revision, 4);
  });

  test("nested txns: compares see the state before the txn; nested headers are empty", async () => {
    const response = await h.ok({
      op: "txn",
      success: [put("n1"), nested([put("n2")], [put("n3")], [{ key: bytes("n1"), target: "VERSION", result: "EQUAL", version: 0 }])],
    });
    const inner = response.responses[1]!;
    assert.ok(inner.op === "txn");
    assert.deepEqual([inner.succeeded, inner.revision, inner.responses[0]!.revision], [true, 0, 5]);
    assert.deepEqual(keysOf(h.store.range({ key: bytes("n"), rangeEnd: bytes("o") }).kvs), ["n1", "n2"]);
  });

  test("a state check anywhere on the taken path rejects the whole txn", async () => {
    const revision = h.store.revision;
    const future = await h.rejected({ op: "txn", success: [put("w"), { op: "range", key: bytes("w"), revision: 99 }] });
    assert.equal(future.message, "etcdserver: mvcc: required revision is a future revision");
    const lease = await h.rejected({ op: "txn", success: [put("w"), nested([{ op: "put", key: bytes("v"), lease: 77 }])] });
    assert.equal(lease.message, "etcdserver: requested lease not found");
    assert.equal(h.store.range({ key: bytes("w") }).count, 0);
    assert.equal(h.store.revision, revision);
  });

  test("checks on the branch not taken do not matter", async () => {
    const response = await h.ok({
      op: "txn",
      compare: [{ key: bytes("n1"), target: "VERSION", result: "EQUAL", version: 1 }],
      failure: [{ op: "put", key: bytes("z"), lease: 77 }],
    });
    assert.equal(response.succeeded, true);
  });
});

describe("txn validation", () => {
  let h: Harness;
  before(async () => (h = await Harness.open()));
  after(() => h.close());
  const DUPLICATE = "etcdserver: duplicate key given in txn request";
  const TOO_MANY = "etcdserver: too many operations in txn request";

  test("one key written twice in one branch is a duplicate", async () => {
    assert.equal((await h.rejected({ op: "txn", success: [put("k"), put("k")] })).message, DUPLICATE);
    assert.equal((await h.rejected({ op: "txn", failure: [put("k1"), del("k", "l")] })).message, DUPLICATE);
    assert.equal((await h.rejected({ op: "txn", success: [nested([put("k")]), put("k")] })).message, DUPLICATE);
    assert.equal((await h.rejected({ op: "txn", success: [nested([], [del("k")]), put("k")] })).message, DUPLICATE);
  });

  test("a put in a nested txn and a delete in a later sibling is a duplicate too (etcd 3.4 lets it through)", async () => {
    const error = await h.rejected({ op: "txn", success: [nested([put("k")]), nested([del("k")])] });
    assert.equal(error.message, DUPLICATE);
  });

  test("exclusive branches, the two top-level branches and overlapping deletes are fine", async () => {
    await h.ok({ op: "txn", success: [nested([put("k")], [put("k")])] });
    await h.ok({ op: "txn", success: [put("k")], failure: [put("k")] });
    await h.ok({ op: "txn", success: [del("k"), del("a", "z")] });
  });

  test("at most 128 operations per list, and a nested txn gets what its parent left", async () => {
    const ranges = (count: number): TxnOp[] => Array.from({ length: count }, (_, i) => get(`k${i}`));
    await h.ok({ op: "txn", success: ranges(128) });
    assert.equal((await h.rejected({ op: "txn", success: ranges(129) })).message, TOO_MANY);
    assert.equal((await h.rejected({ op: "txn", success: [nested(ranges(128))] })).message, TOO_MANY);
    await h.ok({ op: "txn", success: [nested(ranges(127))] });
  });

  test("empty keys in compares and ops", async () => {
    const empty = new Uint8Array(0);
    const compare: Compare = { key: empty, target: "VERSION", result: "EQUAL" };
    assert.equal((await h.rejected({ op: "txn", compare: [compare] })).message, "etcdserver: key is not provided");
    assert.equal((await h.rejected({ op: "txn", success: [nested([{ op: "range", key: empty }])] })).grpcCode, 3);
  });
});
