import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { prefixRangeEnd } from "../src/index.js";
import { bytes, Harness, keysOf, kvText } from "./support/harness.js";

const ZERO = Uint8Array.of(0);

describe("put, delete and versions", () => {
  let h: Harness;
  before(async () => (h = await Harness.open()));
  after(() => h.close());

  test("a fresh store is at revision 1 and the first put makes revision 2", async () => {
    assert.equal(h.store.revision, 1);
    assert.equal(await h.put("foo", "v1"), 2);
    assert.deepEqual(kvText(h.store.range({ key: bytes("foo") }).kvs[0]!), {
      key: "foo",
      value: "v1",
      create: 2,
      mod: 2,
      version: 1,
      lease: 0,
    });
  });

  test("an overwrite keeps the create revision, bumps the version and returns prevKv", async () => {
    const response = await h.ok({ op: "put", key: bytes("foo"), value: bytes("v2"), prevKv: true });
    assert.equal(response.revision, 3);
    assert.deepEqual(kvText(response.prevKv!), { key: "foo", value: "v1", create: 2, mod: 2, version: 1, lease: 0 });
    assert.deepEqual(kvText(h.store.range({ key: bytes("foo") }).kvs[0]!), {
      key: "foo",
      value: "v2",
      create: 2,
      mod: 3,
      version: 2,
      lease: 0,
    });
  });

  test("a delete is a tombstone: the next put starts at version 1 with a new create revision", async () => {
    const deleted = await h.ok({ op: "deleteRange", key: bytes("foo"), prevKv: true });
    assert.equal(deleted.revision, 4);
    assert.equal(deleted.deleted, 1);
    assert.deepEqual(keysOf(deleted.prevKvs), ["foo"]);
    assert.equal(h.store.range({ key: bytes("foo") }).count, 0);
    await h.put("foo", "v3");
    assert.deepEqual(kvText(h.store.range({ key: bytes("foo") }).kvs[0]!), {
      key: "foo",
      value: "v3",
      create: 5,
      mod: 5,
      version: 1,
      lease: 0,
    });
  });

  test("history stays readable at past revisions", () => {
    assert.equal(kvText(h.store.range({ key: bytes("foo"), revision: 2 }).kvs[0]!).value, "v1");
    assert.equal(h.store.range({ key: bytes("foo"), revision: 4 }).count, 0);
  });

  test("deleting nothing does not bump the revision", async () => {
    const response = await h.ok({ op: "deleteRange", key: bytes("missing") });
    assert.deepEqual([response.revision, response.deleted, h.store.revision], [5, 0, 5]);
  });

  test("ignoreValue keeps the value and ignoreLease keeps the lease", async () => {
    const { id } = await h.ok({ op: "leaseGrant", ttl: 60, id: 7 });
    await h.put("kept", "original", id);
    await h.ok({ op: "put", key: bytes("kept"), ignoreValue: true, lease: 0 });
    assert.deepEqual(kvText(h.store.range({ key: bytes("kept") }).kvs[0]!).value, "original");
    await h.ok({ op: "put", key: bytes("kept"), value: bytes("new"), lease: id });
    await h.ok({ op: "put", key: bytes("kept"), value: bytes("newer"), ignoreLease: true });
    assert.equal(h.store.range({ key: bytes("kept") }).kvs[0]!.lease, id);
  });

  test("put is rejected with etcd's messages", async () => {
    const cases: [Parameters<Harness["rejected"]>[0], string][] = [
      [{ op: "put", key: new Uint8Array(0), value: bytes("x") }, "etcdserver: key is not provided"],
      [{ op: "put", key: bytes("foo"), value: bytes("x"), ignoreValue: true }, "etcdserver: value is provided"],
      [{ op: "put", key: bytes("foo"), lease: 5, ignoreLease: true }, "etcdserver: lease is provided"],
      [{ op: "put", key: bytes("nope"), ignoreValue: true }, "etcdserver: key not found"],
      [{ op: "put", key: bytes("nope"), ignoreLease: true }, "etcdserver: key not found"],
      [{ op: "put", key: bytes("foo"), lease: 12345 }, "etcdserver: requested lease not found"],
    ];
    const revision = h.store.revision;
    for (const [request, message] of cases) assert.equal((await h.rejected(request)).message, message);
    assert.equal(h.store.revision, revision);
  });
});

describe("range", () => {
  let h: Harness;
  before(async () => {
    h = await Harness.open();
    for (const key of ["p/a", "p/b", "p/c", "p/d", "p/e", "q"]) await h.put(key, `val-${key}`); // revisions 2..7
    await h.put("p/c", "zz"); // revision 8
  });
  after(() => h.close());
  const prefix = { key: bytes("p/"), rangeEnd: prefixRangeEnd(bytes("p/")) };

  test("range end conventions: single key, prefix, every key from key on, all keys, empty interval", () => {
    assert.deepEqual(keysOf(h.store.range({ key: bytes("p/a") }).kvs), ["p/a"]);
    assert.deepEqual(keysOf(h.store.range(prefix).kvs), ["p/a", "p/b", "p/c", "p/d", "p/e"]);
    assert.deepEqual(keysOf(h.store.range({ key: bytes("p/d"), rangeEnd: ZERO }).kvs), ["p/d", "p/e", "q"]);
    assert.equal(h.store.range({ key: ZERO, rangeEnd: ZERO }).count, 6);
    assert.equal(h.store.range({ key: bytes("p/d"), rangeEnd: bytes("p/a") }).count, 0);
  });

  test("count is every match before limit; more says the limit cut", () => {
    const limited = h.store.range({ ...prefix, limit: 2 });
    assert.deepEqual([keysOf(limited.kvs), limited.count, limited.more], [["p/a", "p/b"], 5, true]);
    const exact = h.store.range({ ...prefix, limit: 5 });
    assert.deepEqual([exact.kvs.length, exact.more], [5, false]);
    const unlimited = h.store.range({ ...prefix, limit: -1 });
    assert.deepEqual([unlimited.kvs.length, unlimited.more], [5, false]);
  });

  test("countOnly returns no kvs and keysOnly no values", () => {
    assert.deepEqual(h.store.range({ ...prefix, limit: 2, countOnly: true }), {
      op: "range",
      revision: 8,
      kvs: [],
      more: false,
      count: 5,
    });
    assert.ok(h.store.range({ ...prefix, keysOnly: true }).kvs.every((kv) => kv.value.length === 0));
  });

  test("mod and create revision filters apply after counting", () => {
    const recent = h.store.range({ ...prefix, minModRevision: 4, limit: 1 });
    assert.deepEqual([keysOf(recent.kvs), recent.count, recent.more], [["p/c"], 5, true]);
    assert.deepEqual(keysOf(h.store.range({ ...prefix, maxCreateRevision: 3 }).kvs), ["p/a", "p/b"]);
    assert.deepEqual(keysOf(h.store.range({ ...prefix, minCreateRevision: 6, maxModRevision: 6 }).kvs), ["p/e"]);
  });

  test("sorting: other targets default to ascending, ties stay in key order", () => {
    const byMod = h.store.range({ ...prefix, sortTarget: "MOD", sortOrder: "DESCEND", limit: 2 });
    assert.deepEqual([keysOf(byMod.kvs), byMod.more], [["p/c", "p/e"], true]);
    assert.deepEqual(keysOf(h.store.range({ ...prefix, sortTarget: "VALUE" }).kvs), ["p/a", "p/b", "p/d", "p/e", "p/c"]);
    assert.deepEqual(keysOf(h.store.range({ ...prefix, sortTarget: "VERSION", sortOrder: "DESCEND" }).kvs), ["p/c", "p/a", "p/b", "p/d", "p/e"]);
    assert.deepEqual(keysOf(h.store.range({ ...prefix, sortOrder: "DESCEND" }).kvs), ["p/e", "p/d", "p/c", "p/b", "p/a"]);
    assert.deepEqual(keysOf(h.store.range({ ...prefix, sortTarget: "CREATE", sortOrder: "DESCEND", limit: 1 }).kvs), ["p/e"]);
  });

  test("the header carries the current revision, also for historical reads", () => {
    const past = h.store.range({ key: bytes("p/c"), revision: 4 });
    assert.deepEqual([past.revision, kvText(past.kvs[0]!).value], [8, "val-p/c"]);
  });

  test("errors: empty key, future revision", () => {
    assert.throws(() => h.store.range({ key: new Uint8Array(0), rangeEnd: ZERO }), {
      message: "etcdserver: key is not provided",
    });
    assert.throws(() => h.store.range({ key: bytes("p/a"), revision: 9 }), {
      message: "etcdserver: mvcc: required revision is a future revision",
      grpcCode: 11,
    });
  });

  test("prefixRangeEnd increments the last byte that can be, and gives up on all-0xff", () => {
    assert.deepEqual(prefixRangeEnd(bytes("p/")), bytes("p0"));
    assert.deepEqual(prefixRangeEnd(Uint8Array.of(0x61, 0xff)), Uint8Array.of(0x62));
    assert.deepEqual(prefixRangeEnd(Uint8Array.of(0xff, 0xff)), ZERO);
  });
});
