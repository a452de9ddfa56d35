import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, readdir, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { ClassicLevel } from "classic-level";
import { installedTables } from "../src/database.js";
import { CompactedError, levelDbAt, MvccStore, type LogEntry } from "../src/index.js";
import { bytes, Harness, kvText, text } from "./support/harness.js";

const COMPACTED = "etcdserver: mvcc: required revision has been compacted";
const FUTURE = "etcdserver: mvcc: required revision is a future revision";

describe("compaction", () => {
  let h: Harness;
  before(async () => {
    h = await Harness.open();
    await h.put("foo", "v1"); // 2
    await h.put("foo", "v2"); // 3
    await h.ok({ op: "deleteRange", key: bytes("foo") }); // 4
    await h.put("foo", "v3"); // 5
    await h.put("gone", "g"); // 6
    await h.ok({ op: "deleteRange", key: bytes("gone") }); // 7
  });
  after(() => h.close());

  test("compacting a future revision is refused", async () => {
    assert.equal((await h.rejected({ op: "compact", revision: 8 })).message, FUTURE);
  });

  test("keeps the newest version at or below the compaction point and drops tombstones", async () => {
    assert.equal((await h.store.status()).storedRevisions, 6);
    await h.ok({ op: "compact", revision: 3 });
    assert.equal(h.store.compactRevision, 3);
    assert.equal((await h.store.status()).storedRevisions, 5);
    assert.equal(kvText(h.store.range({ key: bytes("foo"), revision: 3 }).kvs[0]!).value, "v2");
    assert.equal(h.store.range({ key: bytes("foo"), revision: 4 }).count, 0);
  });

  test("reads below the compaction point fail; at it they work", () => {
    assert.throws(() => h.store.range({ key: bytes("foo"), revision: 2 }), { message: COMPACTED, grpcCode: 11 });
    assert.equal(h.store.range({ key: bytes("foo"), revision: 3 }).count, 1);
  });

  test("compacting at or below the compaction point is refused", async () => {
    assert.equal((await h.rejected({ op: "compact", revision: 3 })).message, COMPACTED);
    assert.equal((await h.rejected({ op: "compact", revision: 1 })).message, COMPACTED);
  });

  test("a key deleted at or before the compaction point disappears entirely", async () => {
    await h.ok({ op: "compact", revision: 7 });
    const status = await h.store.status();
    assert.deepEqual([status.storedRevisions, status.keyCount], [1, 1]);
    assert.equal(h.store.range({ key: bytes("gone"), revision: 6 + 1 }).count, 0);
  });

  test("watchers below the compaction point get the compact revision", () => {
    assert.throws(
      () => h.store.eventsSince(6),
      (error: unknown) => error instanceof CompactedError && error.compactRevision === 7 && error.message === COMPACTED,
    );
    assert.deepEqual(h.store.eventsSince(7).events, []);
  });

  test("the compaction survives a reopen", async () => {
    await h.reopen();
    assert.equal(h.store.compactRevision, 7);
    assert.equal((await h.store.status()).storedRevisions, 1);
    assert.throws(() => h.store.range({ key: bytes("foo"), revision: 6 }), { message: COMPACTED });
    assert.equal(kvText(h.store.range({ key: bytes("foo") }).kvs[0]!).value, "v3");
  });

  test("hash refuses compacted and future revisions", async () => {
    await assert.rejects(h.store.hash(6), { message: COMPACTED });
    await assert.rejects(h.store.hash(8), { message: FUTURE });
  });
});

describe("defragmentation", () => {
  test("gives the space of deleted and compacted entries back: the files shrink, and what is live stays readable", async () => {
    const h = await Harness.open();
    try {
      const value = "x".repeat(16 * 1024);
      for (let i = 0; i < 40; i++) await h.put(`big/${i}`, value);
      await h.put("kept", "k");
      const { revision } = await h.ok({ op: "deleteRange", key: bytes("big/"), rangeEnd: bytes("big0") });
      await h.ok({ op: "compact", revision });
      // hash() waits for the applied batches to reach LevelDB, so the files hold them all.
      await h.store.hash();
      const before = (await h.store.status()).dbSize;
      await h.store.defragment();
      const after = (await h.store.status()).dbSize;
      assert.ok(after < before / 4, `${before} bytes before defragmenting, ${after} after`);
      assert.equal(text(h.store.range({ key: bytes("kept") }).kvs[0]!.value), "k");
      await h.reopen();
      assert.equal(text(h.store.range({ key: bytes("kept") }).kvs[0]!.value), "k");
    } finally {
      await h.close();
    }
  });
});

describe("the store's size", () => {
  test("counts every file of the directory, the tables LevelDB lists with their sizes and the rest measured", async () => {
    const dir = await mkdtemp(join(tmpdir(), "mvcc-size-"));
    const database = levelDbAt(dir);
    const store = await MvccStore.open(database);
    try {
      // Incompressible values, so that the tables are of a size worth counting.
      const puts = (from: number, count: number, size: number): LogEntry[] =>
        Array.from({ length: count }, (_, i) => ({ index: from + i, request: { op: "put", key: bytes(`key/${from + i}`), value: randomBytes(size) } }));
      // Twice: the second defragmentation replaces every table the first one made and the size knew.
      for (const round of [0, 1]) {
        await store.applyBatch(puts(1 + 50 * round, 40, 12 * 1024));
        await store.defragment();
        await store.applyBatch(puts(41 + 50 * round, 10, 10));
        await store.hash();
        const files = await readdir(dir);
        const sizes = new Map(await Promise.all(files.map(async (name) => [name, (await stat(join(dir, name))).size] as const)));
        const tables = files.filter((name) => name.endsWith(".ldb"));
        assert.ok(tables.length > 0, `tables after a defragmentation, in ${files.join(", ")}`);
        const listed = installedTables(database.db as ClassicLevel<Uint8Array, Uint8Array>);
        assert.deepEqual(listed, new Map(tables.map((name) => [name, sizes.get(name)])), "LevelDB lists every table with its size");
        assert.equal(
          (await store.status()).dbSize,
          [...sizes.values()].reduce((total, size) => total + size, 0),
        );
      }
    } finally {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
