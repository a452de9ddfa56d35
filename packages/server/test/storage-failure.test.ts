/**
 * The Raft loop over a WAL whose sync fails (SimDisk's EIO): the write that
 * failed is never acknowledged nor retried, nothing later is either, and the
 * member says so and stops calling itself leader. The process side (exit
 * status 74, health over HTTP, a full tmpfs) is in the root test/disk-*.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { EntryType, MemoryStorage, bootstrapLog, type Entry } from "@raftkv/raft";
import { SimDisk, Wal, WalFailedError } from "@raftkv/wal";
import { pino } from "pino";
import { Metrics } from "../src/metrics.js";
import { RaftHost, type EntryApplier } from "../src/raft-host.js";
import { StorageHealth, isStorageError } from "../src/storage-failure.js";

const ID = 1;
const encode = (text: string) => new TextEncoder().encode(text);
const decode = (entry: Entry) => new TextDecoder().decode(entry.data);

async function until(what: string, condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** A lone voter on a simulated disk, leading, with what it applied. */
async function loneLeader(disk: SimDisk) {
  const wal = await Wal.open("/member/wal", { fs: disk.mount() });
  const log = bootstrapLog([{ id: ID }]);
  await wal.save({ entries: log.entries, hardState: log.hardState });
  const storage = new MemoryStorage();
  storage.append(log.entries);
  storage.setHardState(log.hardState);
  const applied: string[] = [];
  let appliedIndex = 0;
  const applier: EntryApplier = {
    get appliedIndex() {
      return appliedIndex;
    },
    async apply(entries) {
      applied.push(...entries.filter((entry) => entry.type === EntryType.Normal && entry.data.byteLength > 0).map(decode));
      appliedIndex = entries[entries.length - 1]!.index;
    },
  };
  const storageHealth = new StorageHealth();
  const metrics = new Metrics(
    { term: () => 0, isLeader: () => false, commitIndex: () => 0, appliedIndex: () => 0 },
    { alarms: () => [], wasRemoved: () => false, storageFailed: () => storageHealth.failure !== undefined, activePeers: () => 0 },
  );
  const host = new RaftHost({
    id: ID,
    wal,
    storage,
    applier,
    snapshots: { install: async () => undefined, maybeTake: () => undefined },
    network: { send: () => undefined },
    logger: pino({ level: "silent" }),
    metrics,
    tickMs: 10,
    heartbeatTicks: 1,
    electionTicks: 5,
    requestTimeoutMs: 2_000,
    reachable: () => true,
    storageHealth,
  });
  host.start();
  await until("the lone voter to lead", () => host.isLeader);
  return { host, wal, applied, storageHealth };
}

test("after a failed WAL sync the member acknowledges nothing more, never retries the write, and stops leading", async () => {
  const disk = new SimDisk();
  const { host, wal, applied, storageHealth } = await loneLeader(disk);
  try {
    host.propose([encode("before")]);
    await until("the first write to apply", () => applied.includes("before"));

    disk.failNextSyncs(1);
    host.propose([encode("lost")]);
    await until("the failure to be reported", () => storageHealth.failure !== undefined);
    assert.equal(storageHealth.failure?.where, "wal");
    assert.ok(storageHealth.failure?.error instanceof WalFailedError);
    assert.ok(isStorageError(storageHealth.failure?.error), "EIO under the WAL's error counts as the disk's");
    assert.match(storageHealth.reason ?? "", /^STORAGE FAILED: wal: .*simulated sync failure/);

    assert.equal(host.leader, 0);
    assert.equal(host.isLeader, false);
    assert.equal(host.status().lead, 0);
    assert.throws(() => host.propose([encode("after")]), /etcdserver: server stopped/);
    // The disk works again, but nothing is retried as if the failed sync had succeeded.
    await assert.rejects(wal.save({ entries: [] }), WalFailedError);
    assert.deepEqual(applied, ["before"]);
  } finally {
    await host.stop();
  }
});

test("only a disk's refusals count as storage errors", () => {
  const enospc = Object.assign(new Error("no space left on device"), { code: "ENOSPC" });
  assert.equal(isStorageError(enospc), true);
  assert.equal(isStorageError(new Error("wrapped", { cause: enospc })), true);
  assert.equal(isStorageError(Object.assign(new Error("LevelDB"), { code: "LEVEL_IO_ERROR" })), true);
  assert.equal(isStorageError(new RangeError("wal: entries must be consecutive")), false);
  assert.equal(isStorageError(Object.assign(new Error("not found"), { code: "ENOENT" })), false);
});
