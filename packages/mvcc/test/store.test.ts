import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { ClassicLevel } from "classic-level";
import { MemoryLevel } from "memory-level";
import { MvccStore, withoutFiles, type LogEntry } from "../src/index.js";
import { decodeSnapshotChunk, encodeSnapshotChunk } from "../src/layout.js";
import { applyOne, bytes, Harness, keysOf, plain, text } from "./support/harness.js";

const putEntry = (index: number, key: string, value = `v${index}`): LogEntry => ({
  index,
  request: { op: "put", key: bytes(key), value: bytes(value) },
});

describe("applying the log", () => {
  let h: Harness;
  before(async () => (h = await Harness.open()));
  after(() => h.close());

  test("a batch applies in order in one write, with one result per entry", async () => {
    const results = await h.store.applyBatch([
      putEntry(1, "a"),
      { index: 2, request: { op: "put", key: bytes("b"), lease: 5 } },
      {
        index: 3,
        request: {
          op: "txn",
          compare: [{ key: bytes("a"), target: "VERSION", result: "EQUAL", version: 1 }],
          success: [{ op: "put", key: bytes("c"), value: bytes("seen a") }],
        },
      },
      { index: 4 },
    ]);
    assert.deepEqual(
      results.map((result) => result.status),
      ["applied", "rejected", "applied", "ignored"],
    );
    assert.deepEqual(keysOf(h.store.range({ key: bytes("a"), rangeEnd: bytes("z") }).kvs), ["a", "c"]);
    assert.deepEqual([h.store.appliedIndex, h.store.revision], [4, 3]);
  });

  test("entries at or below the applied index are ignored, so replaying the log is harmless", async () => {
    const results = await h.store.applyBatch([putEntry(3, "a", "again"), putEntry(4, "a", "again"), putEntry(5, "d")]);
    assert.deepEqual(
      results.map((result) => result.status),
      ["ignored", "ignored", "applied"],
    );
    assert.equal(text(h.store.range({ key: bytes("a") }).kvs[0]!.value), "v1");
  });

  test("the applied index is written with the data and survives a reopen", async () => {
    await h.reopen();
    assert.deepEqual([h.store.appliedIndex, h.store.revision], [5, 4]);
    assert.equal((await applyOne(h.store, 5, { op: "put", key: bytes("x") })).status, "ignored");
  });

  test("concurrent batches are applied one after the other in call order", async () => {
    const pending = [h.store.applyBatch([putEntry(6, "q")]), h.store.applyBatch([putEntry(7, "q")])];
    await Promise.all(pending);
    assert.equal(text(h.store.range({ key: bytes("q") }).kvs[0]!.value), "v7");
  });

  test("status counts what is stored", async () => {
    const status = await h.store.status();
    assert.deepEqual([status.revision, status.appliedIndex, status.keyCount, status.storedRevisions, status.leaseCount], [6, 7, 4, 5, 0]);
    assert.ok(status.dbSize > 0);
  });

  test("a closed store refuses work", async () => {
    const other = await Harness.open();
    await other.store.close();
    assert.throws(() => other.store.range({ key: bytes("a") }), /closed/);
    await assert.rejects(applyOne(other.store, 1, { op: "put", key: bytes("a") }), /closed/);
    await rm(other.dir, { recursive: true, force: true });
  });
});

describe("replicas and snapshots", () => {
  const history: LogEntry[] = [
    { index: 1, request: { op: "leaseGrant", ttl: 30, id: 1 } },
    putEntry(2, "k1"),
    { index: 3, request: { op: "put", key: bytes("k2"), value: bytes("x"), lease: 1 } },
    putEntry(4, "k1"),
    { index: 5, request: { op: "deleteRange", key: bytes("k1") } },
    { index: 6, request: { op: "compact", revision: 3 } },
    putEntry(7, "k3"),
    { index: 8, request: { op: "leaseCheckpoint", checkpoints: [{ id: 1, remainingTtl: 12 }] } },
  ];

  test("replicas that apply the same log in different batches have the same hash", async () => {
    const [one, two] = [await Harness.open(), await Harness.open()];
    try {
      await one.store.applyBatch(history);
      for (const entry of history) await two.store.applyBatch([entry]);
      const [hashOne, hashTwo] = [await one.store.hash(), await two.store.hash()];
      assert.deepEqual(hashOne, hashTwo);
      assert.notEqual((await one.store.hash(4)).hash, hashOne.hash);
      await one.reopen();
      assert.deepEqual(await one.store.hash(), hashOne);
    } finally {
      await Promise.all([one.close(), two.close()]);
    }
  });

  test("an export is a point-in-time copy that imports into a fresh store", async () => {
    const [source, target] = [await Harness.open(), await Harness.open()];
    try {
      await source.store.applyBatch(history);
      const exported = await source.store.exportSnapshot();
      await applyOne(source.store, 9, { op: "put", key: bytes("after"), value: bytes("export") });
      await target.store.importSnapshot(exported.chunks);
      assert.deepEqual(
        [target.store.appliedIndex, target.store.revision, target.store.compactRevision],
        [exported.appliedIndex, exported.revision, exported.compactRevision],
      );
      assert.equal(target.store.range({ key: bytes("after") }).count, 0);
      assert.deepEqual(target.store.leases(), [{ id: 1, ttl: 30, remainingTtl: 12, renewedAt: 1 }]);
      assert.deepEqual(target.store.lease(1)?.keys.map(text), ["k2"]);
      await applyOne(source.store, 10, { op: "deleteRange", key: bytes("after") });
      // Same state, different histories past it: the hashes up to the export's revision agree.
      assert.deepEqual((await target.store.hash(exported.revision)).hash, (await source.store.hash(exported.revision)).hash);
    } finally {
      await Promise.all([source.close(), target.close()]);
    }
  });

  test("an import indexes what it writes as opening the store would, revisions spread over many chunks", async () => {
    const [source, target] = [await Harness.open(), await Harness.open()];
    try {
      await source.store.applyBatch([...history, putEntry(9, "k3"), putEntry(10, "k2"), { index: 11, request: { op: "deleteRange", key: bytes("k3") } }]);
      const exported = await source.store.exportSnapshot();
      // One key-value pair per chunk: revisions, leases and counters each arrive in chunks of their own.
      const pairs: Uint8Array[] = [];
      for await (const chunk of exported.chunks) {
        const entries = decodeSnapshotChunk(chunk);
        for (let i = 0; i + 1 < entries.length; i += 2) pairs.push(encodeSnapshotChunk([entries[i]!, entries[i + 1]!]));
      }
      assert.ok(pairs.length > 8);
      await target.store.importSnapshot(pairs);
      const imported = readsOf(target.store);
      await target.reopen();
      assert.deepEqual(imported, readsOf(target.store));
      assert.deepEqual(imported, readsOf(source.store));
    } finally {
      await Promise.all([source.close(), target.close()]);
    }
  });

  test("an export leaves out the index entries and the layout marker, which an import writes for itself", async () => {
    const [source, target] = [await Harness.open(), await Harness.open()];
    try {
      await source.store.applyBatch(history);
      const spaces = new Set<string>();
      const chunks: Uint8Array[] = [];
      for await (const chunk of (await source.store.exportSnapshot()).chunks) {
        chunks.push(chunk);
        const entries = decodeSnapshotChunk(chunk);
        for (let i = 0; i < entries.length; i += 2) spaces.add(String.fromCharCode(entries[i]![0]!));
        assert.ok(!entries.some((key) => Buffer.from(key).equals(Buffer.from("mlayout"))));
      }
      assert.deepEqual([...spaces].sort(), ["l", "m", "r"]);
      await target.store.importSnapshot(chunks);
      await target.reopen();
      assert.deepEqual(readsOf(target.store), readsOf(source.store));
    } finally {
      await Promise.all([source.close(), target.close()]);
    }
  });

  test("an export is of the state at the call, however many applies follow before it resolves", async () => {
    const [source, target, reference] = [await Harness.open(), await Harness.open(), await Harness.open()];
    try {
      const put = (index: number) => ({ index, request: { op: "put" as const, key: bytes(`k${index % 7}`), value: bytes(`v${index}`) } });
      // Each apply resolves once memory has it; LevelDB writes are still in flight, as under steady load.
      for (let index = 1; index <= 20; index++) await source.store.applyBatch([put(index)]);
      const exporting = source.store.exportSnapshot();
      const applies: Promise<unknown>[] = [];
      for (let index = 21; index <= 40; index++) applies.push(source.store.applyBatch([put(index)]));
      const exported = await exporting;
      await Promise.all(applies);
      assert.equal(exported.appliedIndex, 20);
      await target.store.importSnapshot(exported.chunks);
      for (let index = 1; index <= 20; index++) await reference.store.applyBatch([put(index)]);
      assert.deepEqual([target.store.appliedIndex, target.store.revision], [20, exported.revision]);
      assert.deepEqual(await target.store.hash(), await reference.store.hash());
      // And the source went on to write everything after the cut.
      await source.reopen();
      assert.equal(source.store.appliedIndex, 40);
    } finally {
      await Promise.all([source.close(), target.close(), reference.close()]);
    }
  });

  test("a failed import leaves the store unavailable until an import succeeds", async () => {
    const [source, target] = [await Harness.open(), await Harness.open()];
    try {
      await source.store.applyBatch(history);
      await assert.rejects(target.store.importSnapshot([Uint8Array.of(1, 2, 3)]), /snapshot chunk/);
      assert.throws(() => target.store.range({ key: bytes("k2") }), /import failed/);
      // Status still answers: a member whose storage failed reports it while it says why.
      assert.equal(typeof (await target.store.status()).dbSize, "number");
      await target.store.importSnapshot((await source.store.exportSnapshot()).chunks);
      assert.equal(target.store.range({ key: bytes("k2") }).count, 1);
      await target.reopen();
      assert.deepEqual(await target.store.hash(), await source.store.hash());
    } finally {
      await Promise.all([source.close(), target.close()]);
    }
  });

  test("a store left by an interrupted import refuses to open", async () => {
    const dir = await mkdtemp(join(tmpdir(), "mvcc-test-"));
    try {
      const db = new ClassicLevel<string, string>(dir);
      await db.put("mimporting", "1"); // the marker key, as an import leaves it
      await db.close();
      await assert.rejects(MvccStore.open(dir), /interrupted snapshot import/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("side records", () => {
  test("a side record is applied with its entry, read back after a reopen, and carried in a snapshot", async () => {
    const [source, target] = [await Harness.open(), await Harness.open()];
    try {
      await source.store.applyBatch([putEntry(1, "a"), { index: 2, sideRecord: { name: "auth", value: bytes("first") } }]);
      await source.store.applyBatch([
        { index: 3, sideRecord: { name: "auth", value: bytes("second") } },
        { index: 3, sideRecord: { name: "auth", value: bytes("replayed") } },
      ]);
      assert.equal(text(source.store.sideRecord("auth") ?? new Uint8Array()), "second", "an entry already applied changes nothing");
      assert.equal(source.store.revision, 2, "a side record alone is no revision of the keyspace");
      await source.reopen();
      assert.equal(text(source.store.sideRecord("auth") ?? new Uint8Array()), "second");
      await target.store.importSnapshot((await source.store.exportSnapshot()).chunks);
      assert.equal(text(target.store.sideRecord("auth") ?? new Uint8Array()), "second");
      assert.equal(target.store.sideRecord("other"), undefined);
    } finally {
      await Promise.all([source.close(), target.close()]);
    }
  });
});

describe("any abstract-level database", () => {
  test("a store over an in-memory database applies, reopens over what it wrote, and reports no files", async () => {
    const db = new MemoryLevel<Uint8Array, Uint8Array>({ keyEncoding: "view", valueEncoding: "view" });
    const first = await MvccStore.open(withoutFiles(db));
    await first.applyBatch([putEntry(1, "a"), putEntry(2, "b")]);
    await first.defragment();
    assert.equal((await first.status()).dbSize, 0);
    // The store writes everything before it closes; a memory-level database keeps its contents when closed.
    await first.close();
    const again = await MvccStore.open(withoutFiles(db));
    assert.deepEqual([again.appliedIndex, again.revision], [2, 3]);
    assert.equal(text(again.range({ key: bytes("b") }).kvs[0]!.value), "v2");
    await again.close();
  });
});

/** What the key index answers: every key at every revision since the compaction, the events since it, and the leases' keys. */
function readsOf(store: MvccStore): unknown {
  const all = { key: bytes("\0"), rangeEnd: bytes("\0") };
  const revisions = Array.from({ length: store.revision - store.compactRevision + 1 }, (_, i) => store.compactRevision + i);
  return plain({
    ranges: revisions.map((revision) => store.range({ ...all, revision })),
    events: store.eventsSince(store.compactRevision + 1),
    leases: store.leases().map((lease) => store.lease(lease.id)),
  });
}
