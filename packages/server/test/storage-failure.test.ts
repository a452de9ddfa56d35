/**
 * The Raft loop over a WAL whose sync fails (SimDisk's EIO): the write that
 * failed is never acknowledged nor retried, nothing later is either, and the
 * member says so and stops calling itself leader. The process side (exit
 * status 74, health over HTTP, a full tmpfs) is in the root test/disk-*.
 * A message the Raft core refuses as breaking its invariants stops the
 * member the same way.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { InvariantViolation, MessageType } from "@raftkv/raft";
import { SimDisk, WalFailedError } from "@raftkv/wal";
import { isStorageError } from "../src/storage-failure.js";
import { encode, loneLeader, until } from "./support/lone-leader.js";

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

test("a peer's message that breaks one of the Raft core's invariants stops the member instead of serving on from a state it cannot trust", async () => {
  const { host, applied, storageHealth } = await loneLeader(new SimDisk());
  try {
    host.propose([encode("committed")]);
    await until("the write to apply", () => applied.includes("committed"));
    const newerTerm = host.term + 1;
    const snapshotWithoutSnapshot = {
      type: MessageType.Snap,
      from: 2,
      to: 1,
      term: newerTerm,
      logTerm: 0,
      index: 0,
      entries: [],
      commit: 0,
      reject: false,
      rejectHint: 0,
    };
    host.receive([snapshotWithoutSnapshot]);

    assert.equal(storageHealth.failure?.where, "raft");
    assert.ok(storageHealth.failure?.error instanceof InvariantViolation);
    assert.match(storageHealth.reason ?? "", /snapshot message without a snapshot/);
    assert.throws(() => host.propose([encode("after")]), /etcdserver: server stopped/);
    assert.deepEqual(applied, ["committed"]);
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
