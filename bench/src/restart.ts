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
import { LocalCluster, etcdInstalled, type System } from "./clusters.js";
import { median, putKeys, restartFollower, type RestartTrial } from "./restart-trial.js";

const { values } = parseArgs({
  options: {
    keys: { type: "string", default: "0,400000" },
    trials: { type: "string", default: "5" },
    systems: { type: "string", default: "raftkv,etcd" },
    "base-port": { type: "string", default: "18000" },
  },
});
const keyCounts = values.keys.split(",").map(Number);
const trials = Number(values.trials);
const systems = values.systems.split(",").filter((system): system is System => system === "raftkv" || system === "etcd");

async function measure(system: System, keys: number, basePort: number): Promise<RestartTrial[]> {
  const cluster = await LocalCluster.start(system, basePort);
  try {
    await putKeys(await cluster.waitForLeader(30_000), 0, keys);
    const results: RestartTrial[] = [];
    for (let trial = 0; trial < trials; trial++) results.push(await restartFollower(cluster));
    return results;
  } finally {
    await cluster.stop();
  }
}

/** "median ms (min-max)" */
function spread(samples: readonly number[]): string {
  return `${median(samples).toFixed(0)} ms (${Math.min(...samples).toFixed(0)}-${Math.max(...samples).toFixed(0)})`;
}

const measured = systems.filter((system) => system !== "etcd" || etcdInstalled());
if (measured.length < systems.length) console.log("etcd is not installed (apt-get install etcd-server): measuring raftkv only");
console.log(
  "| system | keys | first linearizable read: median (min-max) | first HTTP answer: median | its CPU at the first read: median (min-max) |\n|---|--:|--:|--:|--:|",
);
for (const keys of keyCounts) {
  for (const [i, system] of measured.entries()) {
    const results = await measure(system, keys, Number(values["base-port"]) + i * 100);
    const reads = results.map((result) => result.firstReadMs);
    const cpu = results.map((result) => result.firstReadCpuMs);
    console.log(
      `| ${system} | ${keys.toLocaleString("en")} | ${spread(reads)} | ${median(results.map((result) => result.firstAnswerMs)).toFixed(0)} ms | ${spread(cpu)} |`,
    );
  }
}
