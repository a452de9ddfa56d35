/**
 * Group commit on the real disk: concurrent saves share one durable write
 * (O_DSYNC), and none resolves before the write that covers it returns.
 */
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { Wal, WalFailedError, SimDisk, nodeFileSystem, type WalFile, type WalFileSystem } from "../src/index.js";
import { waitFor } from "./support/conditions.js";
import { entry, recoveredIndexes, temporaryDir } from "./support/fixtures.js";

/** The real file system, logging each write and fdatasync, and the start and end of each durable write. */
function recordingFileSystem(events: string[]): WalFileSystem {
  const recording = (file: WalFile): WalFile => ({
    write: async (data, position) => {
      events.push("write");
      await file.write(data, position);
    },
    datasync: async () => {
      events.push("sync started");
      await file.datasync();
      events.push("sync returned");
    },
    writeDurably: async (data, position) => {
      events.push("durable write started");
      await file.writeDurably(data, position);
      events.push("durable write returned");
    },
    truncate: (length) => file.truncate(length),
    close: () => file.close(),
  });
  return {
    ...nodeFileSystem,
    create: async (path) => recording(await nodeFileSystem.create(path)),
    openExisting: async (path) => recording(await nodeFileSystem.openExisting(path)),
  };
}

test("saves made together go out in one durable write, acknowledged after it", async () => {
  const dir = await temporaryDir(after);
  const events: string[] = [];
  const wal = await Wal.open(dir, { fs: recordingFileSystem(events) });
  events.length = 0;
  const saves = Array.from({ length: 50 }, (_, i) => wal.save({ entries: [entry(i + 1, 1)] }).then(() => events.push(`ack ${i + 1}`)));
  await Promise.all(saves);
  assert.deepEqual(events.slice(0, 2), ["durable write started", "durable write returned"]);
  assert.equal(events.filter((event) => event.startsWith("ack")).length, 50);
  assert.equal(events.length, 52);
  await wal.close();
});

test("saves made while a write is in flight share the next one", async () => {
  const dir = await temporaryDir(after);
  const events: string[] = [];
  const wal = await Wal.open(dir, { fs: recordingFileSystem(events) });
  events.length = 0;
  const first = wal.save({ entries: [entry(1, 1)] }).then(() => events.push("ack 1"));
  await waitFor(() => events.includes("durable write started"), "the first write to start");
  const later = Array.from({ length: 20 }, (_, i) => wal.save({ entries: [entry(i + 2, 1)] }).then(() => events.push(`ack ${i + 2}`)));
  await Promise.all([first, ...later]);
  const writes = events.filter((event) => event === "durable write started").length;
  assert.equal(writes, 2, events.join(", "));
  // Every acknowledgement comes after the write that covers it has returned.
  const secondSyncReturned = events.lastIndexOf("durable write returned");
  assert.ok(events.indexOf("ack 1") > events.indexOf("durable write returned"));
  for (let index = 2; index <= 21; index++) assert.ok(events.indexOf(`ack ${index}`) > secondSyncReturned);
  const reopened = await Wal.open(dir);
  assert.deepEqual(
    recoveredIndexes(reopened.recovered),
    Array.from({ length: 21 }, (_, i) => i + 1),
  );
  await reopened.close();
  await wal.close();
});

test("a failed fdatasync fails its saves and every later call; reopening recovers what was synced", async () => {
  const disk = new SimDisk();
  const wal = await Wal.open("/wal", { fs: disk.mount() });
  await wal.save({ entries: [entry(1, 1)] });
  disk.failNextSyncs(1);
  await assert.rejects(wal.save({ entries: [entry(2, 1)] }), WalFailedError);
  await assert.rejects(wal.save({ entries: [entry(3, 1)] }), WalFailedError);
  await assert.rejects(wal.releaseTo(1), WalFailedError);
  disk.crash();
  const reopened = await Wal.open("/wal", { fs: disk.mount() });
  assert.deepEqual(recoveredIndexes(reopened.recovered), [1]);
  await reopened.close();
});

test("a file whose write throws instead of rejecting fails its saves and every later one, never leaves them waiting", async () => {
  const disk = new SimDisk();
  const real = disk.mount();
  let throwOnWrite = false;
  const throwing = (file: WalFile): WalFile => ({
    ...file,
    writeDurably: (data, position) => {
      if (throwOnWrite) throw new Error("EBADF, thrown at once");
      return file.writeDurably(data, position);
    },
  });
  const wal = await Wal.open("/wal", {
    fs: { ...real, create: async (path) => throwing(await real.create(path)), openExisting: async (path) => throwing(await real.openExisting(path)) },
  });
  await wal.save({ entries: [entry(1, 1)] });
  throwOnWrite = true;
  await assert.rejects(wal.save({ entries: [entry(2, 1)] }), WalFailedError);
  await assert.rejects(wal.save({ entries: [entry(3, 1)] }), WalFailedError);
  await wal.close();
});
