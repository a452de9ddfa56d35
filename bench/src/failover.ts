/**
 * Failover: time from SIGKILL of the leader to the first acknowledged write
 * that was sent after the kill, for raftkv and etcd 3.4, both with their
 * default heartbeat (100 ms) and election timeout (1 s), 10 trials each.
 * Run: pnpm --filter @raftkv/bench failover [trials]
 */
import { LocalCluster, etcdInstalled, put, type System } from "./clusters.js";

const trials = Number(process.argv[2] ?? 10);

async function measureOnce(cluster: LocalCluster): Promise<number> {
  const leader = await cluster.waitForLeader(30_000);
  // Warm the connections and make sure writes flow before the kill.
  for (const member of cluster.running()) await put(member, "warm", "up", 2_000);
  const killedAt = performance.now();
  await cluster.kill(leader);
  for (let attempt = 0; ; attempt++) {
    const survivors = cluster.running();
    const member = survivors[attempt % survivors.length]!;
    if (await put(member, "after-kill", String(attempt), 300)) return performance.now() - killedAt;
    if (performance.now() - killedAt > 30_000) throw new Error("no write within 30 s of the kill");
  }
}

async function measure(system: System, basePort: number): Promise<number[]> {
  const samples: number[] = [];
  for (let trial = 0; trial < trials; trial++) {
    const cluster = await LocalCluster.start(system, basePort);
    try {
      samples.push(await measureOnce(cluster));
    } finally {
      await cluster.stop();
    }
  }
  return samples;
}

function summary(samples: number[]): string {
  const sorted = [...samples].sort((a, b) => a - b);
  const median = sorted.length % 2 ? sorted[(sorted.length - 1) / 2]! : (sorted[sorted.length / 2 - 1]! + sorted[sorted.length / 2]!) / 2;
  return `median ${median.toFixed(0)} ms, best ${sorted[0]!.toFixed(0)} ms, worst ${sorted[sorted.length - 1]!.toFixed(0)} ms  [${sorted.map((s) => s.toFixed(0)).join(", ")}]`;
}

const systems: System[] = etcdInstalled() ? ["raftkv", "etcd"] : ["raftkv"];
if (!etcdInstalled()) console.log("etcd is not installed (apt-get install etcd-server): measuring raftkv only");
for (const system of systems) {
  const samples = await measure(system, system === "raftkv" ? 46000 : 47000);
  console.log(`${system.padEnd(6)} leader SIGKILL -> first acknowledged write (${trials} trials): ${summary(samples)}`);
}
