/**
 * A store written before the "k" key space (layout version 0) opens with the
 * same state it held, and keeps it through an upgrade that crashes midway:
 * real LevelDB directories, written record by record in the old format
 * (support/old-layout.ts), and real processes killed during the upgrade.
 *
 * MVCC_UPGRADE_DIRECTORIES sets how many copies of the old store are
 * crashed one to three times each (RAFTKV_SOAK=1: 100);
 * MVCC_UPGRADE_SEED replays a run.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { cp, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { after, before, describe, test } from "node:test";
import fc from "fast-check";
import { MvccStore, type LogEntry } from "../src/index.js";
import { bytes, Harness, text } from "./support/harness.js";
import { entriesBySpace, writeOldLayoutStore, type ExpectedKey, type OldWrite } from "./support/old-layout.js";

const directories = Number(process.env.MVCC_UPGRADE_DIRECTORIES ?? (process.env.RAFTKV_SOAK ? 100 : 6));
const seed = Number(process.env.MVCC_UPGRADE_SEED ?? Date.now() % 1_000_000);
const CHILD = fileURLToPath(new URL("./support/upgrade-child.js", import.meta.url));
const ALL = { key: bytes("\0"), rangeEnd: bytes("\0") };

function liveKeys(store: MvccStore): Map<string, ExpectedKey> {
  const { kvs } = store.range(ALL);
  return new Map(
    kvs.map((kv) => [
      Buffer.from(kv.key).toString("latin1"),
      { value: text(kv.value), createRevision: kv.createRevision, modRevision: kv.modRevision, version: kv.version, lease: kv.lease },
    ]),
  );
}

describe("a store of the old layout", () => {
  const writes: OldWrite[] = [
    { key: "a", value: "1" },
    { key: "b", value: "x", lease: 7 },
    { key: "a", value: "2" },
    { key: "a" },
    { key: "c", value: "3" },
    { key: "d", value: "4", inPreviousTxn: true },
  ];
  // The same history as requests, applied by today's code.
  const requests: LogEntry[] = [
    { index: 1, request: { op: "leaseGrant", id: 7, ttl: 30 } },
    { index: 2, request: { op: "put", key: bytes("a"), value: bytes("1") } },
    { index: 3, request: { op: "put", key: bytes("b"), value: bytes("x"), lease: 7 } },
    { index: 4, request: { op: "put", key: bytes("a"), value: bytes("2") } },
    { index: 5, request: { op: "deleteRange", key: bytes("a") } },
    {
      index: 6,
      request: {
        op: "txn",
        compare: [],
        success: [
          { op: "put", key: bytes("c"), value: bytes("3") },
          { op: "put", key: bytes("d"), value: bytes("4") },
        ],
        failure: [],
      },
    },
  ];

  test("opens with the state and the hash of a store that applied the same history, and goes on from there", async () => {
    const reference = await Harness.open();
    const dir = await mkdtemp(join(tmpdir(), "mvcc-old-layout-"));
    try {
      await reference.store.applyBatch(requests);
      const expected = await writeOldLayoutStore(dir, { leases: [{ id: 7, ttl: 30, grantedAt: 1 }], writes, appliedIndex: 6 });
      let upgraded = await MvccStore.open(dir);
      // History from revision 3 on, or from where a compaction left it.
      const reads = (store: MvccStore) => ({
        live: liveKeys(store),
        past: store.range({ ...ALL, revision: Math.max(3, store.compactRevision) }),
        events: store.eventsSince(Math.max(3, store.compactRevision)),
        lease: store.lease(7),
        counters: [store.revision, store.appliedIndex, store.compactRevision],
      });
      assert.deepEqual(liveKeys(upgraded), expected);
      assert.deepEqual(reads(upgraded), reads(reference.store));
      assert.deepEqual(await upgraded.hash(), await reference.store.hash());
      assert.deepEqual(await upgraded.hash(4), await reference.store.hash(4));
      // What follows the upgrade is written in the new layout and survives a reopen.
      const more: LogEntry[] = [
        { index: 7, request: { op: "put", key: bytes("b"), value: bytes("y") } },
        { index: 8, request: { op: "compact", revision: 5 } },
      ];
      await upgraded.applyBatch(more);
      await reference.store.applyBatch(more);
      await upgraded.close();
      assert.deepEqual(await entriesBySpace(dir), { k: 4, l: 1, m: 4, r: 4 });
      upgraded = await MvccStore.open(dir);
      assert.deepEqual(reads(upgraded), reads(reference.store));
      assert.deepEqual(await upgraded.hash(), await reference.store.hash());
      await upgraded.close();
    } finally {
      await reference.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("an upgrade killed midway", () => {
  const REVISIONS = 10_000;
  let template = "";
  let expected = new Map<string, ExpectedKey>();
  const work: string[] = [];

  before(async () => {
    template = await mkdtemp(join(tmpdir(), "mvcc-upgrade-template-"));
    work.push(template);
    const draws = fc.sample(fc.tuple(fc.nat(4_999), fc.nat(9)), { seed, numRuns: REVISIONS });
    const writes: OldWrite[] = [];
    const live = new Set<string>();
    for (const [i, [slot, dice]] of draws.entries()) {
      const key = `key-${String(slot).padStart(6, "0")}`;
      // About one write in ten to a live key deletes it.
      const remove = live.has(key) && dice === 0;
      writes.push(remove ? { key } : { key, value: `value-${i}` });
      if (remove) live.delete(key);
      else live.add(key);
    }
    expected = await writeOldLayoutStore(template, { writes, appliedIndex: REVISIONS });
  });

  after(async () => {
    for (const dir of work) await rm(dir, { recursive: true, force: true });
  });

  test(`opens with every key after crashes at random points (seed ${seed}, ${directories} directories)`, async () => {
    // The upgrade writes a batch per 1,000 revisions; a plan kills at one of those writes (or, at 0, after a random time).
    const upgradeWrites = Math.ceil(REVISIONS / 1000);
    const kill = fc.record({ afterWrites: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: upgradeWrites })), afterMs: fc.nat(400) });
    // One to three crashed attempts on the same directory, then an open that must succeed. The first
    // dies at a write of the upgrade, so that every directory has one that stopped midway.
    const killAtWrite = fc.record({ afterWrites: fc.integer({ min: 1, max: upgradeWrites }), afterMs: fc.constant(0) });
    const plan = fc.tuple(killAtWrite, fc.array(kill, { maxLength: 2 })).map(([first, rest]) => [first, ...rest]);
    const plans = fc.sample(plan, { seed: seed + 1, numRuns: directories });
    for (const plan of plans) {
      const dir = await mkdtemp(join(tmpdir(), "mvcc-upgrade-"));
      work.push(dir);
      await cp(template, dir, { recursive: true });
      for (const [attempt, { afterWrites, afterMs }] of plan.entries()) {
        const outcome = await runChild(dir, afterWrites, afterMs);
        if (attempt > 0) continue;
        // A test whose kills all missed the upgrade would check nothing: the first leaves some "k" records and no marker.
        const spaces = await entriesBySpace(dir);
        assert.deepEqual([outcome, (spaces.k ?? 0) > 0, spaces.m], ["killed", true, 2], `the first kill stops the upgrade midway (seed ${seed})`);
      }
      const store = await MvccStore.open(dir);
      try {
        assert.deepEqual(liveKeys(store), expected, `seed ${seed}`);
        assert.equal((await store.status()).storedRevisions, REVISIONS);
      } finally {
        await store.close();
      }
      const spaces = await entriesBySpace(dir);
      assert.equal(spaces.k, spaces.r, `every "r" record has its "k" record and no other is left (seed ${seed})`);
    }
  });
});

/** Runs the child until it exits: killed by itself (after a chosen write), by us (after `killAfterMs`), or done. */
async function runChild(dir: string, killAfterWrites: number, killAfterMs: number): Promise<"killed" | "done"> {
  const child = spawn(process.execPath, [CHILD, dir, String(killAfterWrites)], { stdio: ["ignore", "pipe", "inherit"] });
  let timer: NodeJS.Timeout | undefined;
  const lines = createInterface({ input: child.stdout });
  lines.on("line", (line) => {
    // A kill by time only if the child does not kill itself: it lands anywhere in the open.
    if (line === "opening" && killAfterWrites === 0) timer = setTimeout(() => child.kill("SIGKILL"), killAfterMs);
  });
  const [code, signal] = (await once(child, "exit")) as [number | null, NodeJS.Signals | null];
  clearTimeout(timer);
  if (signal === "SIGKILL") return "killed";
  assert.equal(code, 0, "the child opened the store");
  return "done";
}
