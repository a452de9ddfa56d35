/**
 * Restart cost: time from starting a follower's process again (after a
 * SIGKILL, on its data directory) to the first linearizable read that member
 * serves, for raftkv and etcd 3.4 side by side, with the store holding 0 and
 * 400,000 keys (16-byte keys, 256-byte values, loaded through the gateway
 * before the first trial). Each trial also notes when the member first
 * answered HTTP at all. Run:
 *   pnpm --filter @raftkv/bench restart [--keys 0,400000] [--trials 5] [--systems raftkv,etcd]
 */
import { parseArgs } from "node:util";
import { LocalCluster, etcdInstalled, put, type Member, type System } from "./clusters.js";

const { values } = parseArgs({
  options: {
    keys: { type: "string", default: "0,400000" },
    trials: { type: "string", default: "5" },
    systems: { type: "string", default: "raftkv,etcd" },
    "base-port": { type: "string", default: "48000" },
  },
});
const keyCounts = values.keys.split(",").map(Number);
const trials = Number(values.trials);
const systems = values.systems.split(",").filter((system): system is System => system === "raftkv" || system === "etcd");
const LOAD_CONCURRENCY = 64;
const VALUE = "v".repeat(256);
const GIVE_UP_MS = 120_000;

interface Trial {
  readonly firstAnswerMs: number;
  readonly firstReadMs: number;
}

/** Puts `count` keys, `LOAD_CONCURRENCY` at a time, through the leader. */
async function load(leader: Member, count: number): Promise<void> {
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < count; i = next++) {
      const key = `key-${String(i).padStart(12, "0")}`;
      while (!(await put(leader, key, VALUE, 5_000))) await new Promise((resolveRetry) => setTimeout(resolveRetry, 50));
    }
  };
  await Promise.all(Array.from({ length: LOAD_CONCURRENCY }, worker));
}

/** Whether the member answers a linearizable range (true), answers anything else (false), or nothing (undefined). */
async function linearizableRead(member: Member): Promise<boolean | undefined> {
  try {
    const response = await fetch(`${member.clientUrl}/v3/kv/range`, { method: "POST", body: JSON.stringify({ key: Buffer.from("key-").toString("base64") }), signal: AbortSignal.timeout(1_000) });
    await response.arrayBuffer();
    return response.ok;
  } catch {
    return undefined;
  }
}

async function restartOnce(cluster: LocalCluster): Promise<Trial> {
  const leader = await cluster.waitForLeader(30_000);
  const follower = cluster.members.find((member) => member !== leader && member.process)!;
  await cluster.kill(follower);
  const startedAt = performance.now();
  cluster.launch(follower);
  let firstAnswerMs: number | undefined;
  for (;;) {
    const read = await linearizableRead(follower);
    const elapsed = performance.now() - startedAt;
    if (read !== undefined) firstAnswerMs ??= elapsed;
    if (read === true) return { firstAnswerMs: firstAnswerMs!, firstReadMs: elapsed };
    if (elapsed > GIVE_UP_MS) throw new Error(`${cluster.system}: no linearizable read within ${GIVE_UP_MS} ms of the restart`);
    await new Promise((resolveWait) => setTimeout(resolveWait, 5));
  }
}

function median(samples: readonly number[]): number {
  const sorted = [...samples].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

async function measure(system: System, keys: number, basePort: number): Promise<Trial[]> {
  const cluster = await LocalCluster.start(system, basePort);
  try {
    await load(await cluster.waitForLeader(30_000), keys);
    const results: Trial[] = [];
    for (let trial = 0; trial < trials; trial++) results.push(await restartOnce(cluster));
    return results;
  } finally {
    await cluster.stop();
  }
}

const measured = systems.filter((system) => system !== "etcd" || etcdInstalled());
if (measured.length < systems.length) console.log("etcd is not installed (apt-get install etcd-server): measuring raftkv only");
console.log("| system | keys | first linearizable read: median (min-max) | first HTTP answer: median |\n|---|--:|--:|--:|");
for (const keys of keyCounts) {
  for (const [i, system] of measured.entries()) {
    const results = await measure(system, keys, Number(values["base-port"]) + i * 100);
    const reads = results.map((result) => result.firstReadMs);
    const range = `${Math.min(...reads).toFixed(0)}-${Math.max(...reads).toFixed(0)}`;
    console.log(`| ${system} | ${keys.toLocaleString("en")} | ${median(reads).toFixed(0)} ms (${range}) | ${median(results.map((result) => result.firstAnswerMs)).toFixed(0)} ms |`);
  }
}
