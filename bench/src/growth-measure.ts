/**
 * One point of the growth benchmark: a cluster grown to N keys, then
 * measured in a fixed order, the same for raftkv and etcd.
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { dataDirBytes, gatewayCall, status, type LocalCluster, type Member, type System } from "./clusters.js";
import { growthScript, type GrowthWorkload } from "./growth-workloads.js";
import { median, putKeys, restartFollower } from "./restart-trial.js";
import { measureRow } from "./throughput/run.js";
import { keyAt, VALUE } from "./throughput/workloads.js";
import type { LoadResult } from "./throughput/wrk.js";

/** etcd's default limit of operations in one txn, which raftkv shares. */
const PUTS_PER_TXN = 100;
const TXNS_IN_FLIGHT = 8;
/** Puts written between checks of the leader's snapshots while a member is down. */
const PUTS_PER_CHECK = 1000;

export interface GrowthPlan {
  readonly durationS: number;
  readonly warmupS: number;
  readonly connections: number;
  readonly restarts: number;
  readonly catchupEntries: number;
  /** Where the wrk scripts are written. */
  readonly scriptDir: string;
}

export interface GrowthPoint {
  readonly system: System;
  readonly keys: number;
  readonly put: LoadResult;
  readonly range: LoadResult;
  /** Per member, leader first, after the range row. */
  readonly rssMiB: readonly number[];
  readonly dataDirMiB: readonly number[];
  readonly snapshotCreate: { readonly ms: number; readonly mib: number };
  readonly snapshotInstall: { readonly ms: number; readonly entriesWhileDown: number };
  /** Median over the restarts. */
  readonly restartToReadMs: number;
}

export async function measurePoint(cluster: LocalCluster, fromKeys: number, keys: number, plan: GrowthPlan): Promise<GrowthPoint> {
  const say = (what: string): void => console.log(`${cluster.system} ${keys} keys: ${what}`);
  const leader = await cluster.waitForLeader(30_000);
  say(`growing from ${fromKeys}`);
  await grow(leader, fromKeys, keys);
  await compactAll(leader);
  const put = await row(cluster, "put", keys, plan);
  const range = await row(cluster, "range", keys, plan);
  await expectKeyCount(leader, keys);
  const members = [leader, ...cluster.running().filter((member) => member !== leader)];
  const rssMiB = range.nodes.map((node) => node.rssMiB);
  const dataDirMiB = await Promise.all(members.map(async (member) => (await dataDirBytes(member)) / 2 ** 20));
  say("snapshot create");
  const snapshotCreate = await createSnapshot(leader, keys);
  say("snapshot install");
  const snapshotInstall = await installSnapshot(cluster, keys, plan.catchupEntries);
  say("restarts");
  const restarts = [];
  for (let i = 0; i < plan.restarts; i++) restarts.push((await restartFollower(cluster)).firstReadMs);
  return { system: cluster.system, keys, put, range, rssMiB, dataDirMiB, snapshotCreate, snapshotInstall, restartToReadMs: median(restarts) };
}

async function row(cluster: LocalCluster, workload: GrowthWorkload, keys: number, plan: GrowthPlan) {
  const scriptPath = join(plan.scriptDir, `${cluster.system}-${workload}-${keys}.lua`);
  await writeFile(scriptPath, growthScript(workload, keys));
  const measured = await measureRow(cluster, { workload, connections: plan.connections, scriptPath, warmupS: plan.warmupS, durationS: plan.durationS });
  console.log(
    `${cluster.system} ${keys} keys: ${workload} ${measured.throughput.toFixed(0)} req/s, p99 ${measured.latencyMs.p99.toFixed(1)} ms, errors ${measured.errors}`,
  );
  return measured;
}

/** Writes keys `from` to `to` with txns of `PUTS_PER_TXN` puts: one raft entry and revision per txn, so that a million keys load in minutes. */
async function grow(leader: Member, from: number, to: number): Promise<void> {
  const value = Buffer.from(VALUE).toString("base64");
  let next = from;
  const worker = async (): Promise<void> => {
    while (next < to) {
      const first = next;
      next = Math.min(to, next + PUTS_PER_TXN);
      const success = [];
      for (let i = first; i < next; i++) success.push({ request_put: { key: Buffer.from(keyAt(i)).toString("base64"), value } });
      await postUntilOk(leader, "/v3/kv/txn", { success });
    }
  };
  await Promise.all(Array.from({ length: TXNS_IN_FLIGHT }, worker));
}

/** Compacts away all history, so that each size starts from N keys of one revision each. */
async function compactAll(leader: Member): Promise<void> {
  const revision = (await status(leader)).header.revision;
  // raftkv compacts inside the apply, over the whole index: minutes at the largest sizes on a slow machine.
  await postUntilOk(leader, "/v3/kv/compaction", { revision, physical: true }, 300_000);
}

/** Guards the wrk scripts: their puts must overwrite the store's keys, not add others. */
async function expectKeyCount(leader: Member, keys: number): Promise<void> {
  const reply = (await postUntilOk(leader, "/v3/kv/range", { key: b64(keyAt(0)), range_end: b64("key."), count_only: true })) as { count?: string };
  if (Number(reply.count ?? 0) !== keys) throw new Error(`expected ${keys} keys after the rows, found ${reply.count}`);
}

/**
 * The snapshot's size from the gateway's stream: one JSON object per line,
 * each with a base64 chunk. Read line by line, since a million keys' worth
 * (etcd's is over 512 MiB of base64) is longer than a string may be.
 */
async function snapshotBytes(body: AsyncIterable<Uint8Array>): Promise<number> {
  let bytes = 0;
  let partial = "";
  const count = (line: string): void => {
    if (line.trim() !== "") bytes += Buffer.byteLength((JSON.parse(line) as { result: { blob?: string } }).result.blob ?? "", "base64");
  };
  for await (const chunk of body) {
    const lines = (partial + Buffer.from(chunk).toString("latin1")).split("\n");
    partial = lines.pop() ?? "";
    lines.forEach(count);
  }
  count(partial);
  return bytes;
}

/**
 * A backup as `etcdctl snapshot save` takes it: the time from asking the
 * leader for /v3/maintenance/snapshot to the last byte of the stream. One put
 * first, so that raftkv cannot hand out a snapshot file it already had.
 */
async function createSnapshot(leader: Member, keys: number): Promise<{ ms: number; mib: number }> {
  await postUntilOk(leader, "/v3/kv/put", { key: b64(keyAt(keys - 1)), value: b64(VALUE) });
  const started = performance.now();
  const response = await fetch(`${leader.clientUrl}/v3/maintenance/snapshot`, { method: "POST", body: "{}" });
  if (!response.ok || !response.body) throw new Error(`snapshot: ${response.status} ${(await response.text()).slice(0, 200)}`);
  const bytes = await snapshotBytes(response.body);
  const ms = performance.now() - started;
  return { ms, mib: bytes / 2 ** 20 };
}

/**
 * Snapshot install: a follower is killed; the leader then takes puts
 * (overwrites) until its newest snapshot lies more than `catchupEntries`
 * past the raft index at the kill, so that its log no longer holds what the
 * follower lacks and it must send a snapshot. The time is from starting the
 * follower again to its first linearizable read.
 */
async function installSnapshot(cluster: LocalCluster, keys: number, catchupEntries: number): Promise<{ ms: number; entriesWhileDown: number }> {
  let entriesWhileDown = 0;
  let indexAtKill = 0;
  let restarted: Member | undefined;
  const trial = await restartFollower(cluster, async (leader, follower) => {
    restarted = follower;
    indexAtKill = Number((await status(leader)).raftIndex);
    while ((await cluster.snapshotIndex(leader)) - catchupEntries <= indexAtKill) {
      const from = entriesWhileDown % keys;
      const count = Math.min(PUTS_PER_CHECK, keys - from);
      await putKeys(leader, from, from + count);
      entriesWhileDown += count;
    }
  });
  // Both systems keep a snapshot they receive in the data directory.
  if (!restarted || (await cluster.snapshotIndex(restarted)) <= indexAtKill)
    throw new Error(`${cluster.system}: the restarted follower holds no snapshot from the leader`);
  return { ms: trial.firstReadMs, entriesWhileDown };
}

const b64 = (text: string): string => Buffer.from(text).toString("base64");

async function postUntilOk(member: Member, path: string, body: object, timeoutMs = 30_000): Promise<unknown> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await gatewayCall(member, path, body, timeoutMs);
    } catch (error) {
      if (attempt === 5) throw new Error(`${path} failed 5 times: ${error instanceof Error ? error.message : String(error)}`);
      await new Promise((resolveRetry) => setTimeout(resolveRetry, 200 * attempt));
    }
  }
}
