/**
 * A lone voter's Raft loop (RaftHost) over a WAL on a simulated disk, for
 * tests of the loop itself: what it applied, its storage health, and a way to
 * hold an apply open.
 */
import { EntryType, MemoryStorage, bootstrapLog, type Entry } from "@raftkv/raft";
import { type SimDisk, Wal } from "@raftkv/wal";
import { pino } from "pino";
import type { Clock } from "../../src/clock.js";
import { Metrics } from "../../src/metrics.js";
import { RaftHost, type EntryApplier } from "../../src/raft-host.js";
import { StorageHealth } from "../../src/storage-failure.js";

const ID = 1;
export const encode = (text: string) => new TextEncoder().encode(text);
const decode = (entry: Entry) => new TextDecoder().decode(entry.data);

export async function until(what: string, condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/**
 * A lone voter on a simulated disk, leading, with what it applied. Each apply
 * first waits for `beforeApply` (by default nothing), so a test can hold a
 * batch in the middle of being applied.
 */
export async function loneLeader(disk: SimDisk, beforeApply: () => Promise<void> = async () => undefined) {
  const voter = await loneVoter(disk, beforeApply);
  await until("the lone voter to lead", () => voter.host.isLeader);
  return voter;
}

/** The same voter, started on `clock` (the system's by default) and returned at once, before it leads. */
export async function loneVoter(disk: SimDisk, beforeApply: () => Promise<void> = async () => undefined, clock?: Clock) {
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
      await beforeApply();
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
    ...(clock ? { clock } : {}),
  });
  host.start();
  return { host, wal, applied, storageHealth };
}
