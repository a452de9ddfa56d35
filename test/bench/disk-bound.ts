/**
 * Disk use under sustained writes: 200,000 puts (256-byte values over 10,000
 * keys) into a 3-node cluster taking a snapshot every 1,000 entries and
 * compacting history beyond 10,000 revisions; prints each member's data
 * directory size (WAL, snapshots, store) every 20,000 writes, then wipes a
 * member and checks it rejoins with an equal HashKV.
 * Run: node test/dist/bench/disk-bound.js [writes]
 */
import { readdir, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { ProcessCluster, postJson, waitFor } from "../support/process-cluster.js";

const WRITES = Number(process.argv[2] ?? 200_000);
const KEYS = 10_000;
const LANES = 64;
const value = "v".repeat(256);

async function sizeOf(path: string): Promise<number> {
  const info = await stat(path).catch(() => undefined);
  if (!info) return 0;
  if (!info.isDirectory()) return info.size;
  let total = 0;
  for (const name of await readdir(path)) total += await sizeOf(join(path, name));
  return total;
}

const mib = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);

async function report(cluster: ProcessCluster, written: number): Promise<number> {
  let largest = 0;
  const parts: string[] = [];
  for (const member of cluster.running()) {
    const [wal, snap, kv] = await Promise.all(["wal", "snap", "kv"].map((part) => sizeOf(join(member.dataDir, part))));
    largest = Math.max(largest, wal! + snap! + kv!);
    parts.push(`${member.name} wal ${mib(wal!)} snap ${mib(snap!)} kv ${mib(kv!)} MiB`);
  }
  console.log(`${String(written).padStart(7)} writes: ${parts.join(" | ")}`);
  return largest;
}

const cluster = await ProcessCluster.start({
  size: 3,
  heartbeatMs: 100,
  electionMs: 1000,
  extraFlags: ["--snapshot-count=1000", "--auto-compaction-mode=revision", "--auto-compaction-retention=10000"],
});
try {
  let written = 0;
  let largest = 0;
  const started = Date.now();
  await Promise.all(
    Array.from({ length: LANES }, async (_, lane) => {
      for (let i = lane; i < WRITES; i += LANES) {
        const member = cluster.members[i % cluster.members.length]!;
        const response = await fetch(`${member.clientUrl}/v1/kv/k${i % KEYS}`, { method: "PUT", body: value });
        if (!response.ok) throw new Error(`put failed: ${response.status}`);
        if (++written % 20_000 === 0) largest = Math.max(largest, await report(cluster, written));
      }
    }),
  );
  const seconds = (Date.now() - started) / 1000;
  console.log(`${WRITES} writes in ${seconds.toFixed(1)} s (${Math.round(WRITES / seconds)}/s); largest data dir ${mib(largest)} MiB`);

  const victim = cluster.members[2]!;
  await cluster.kill(victim.name);
  await rm(victim.dataDir, { recursive: true, force: true });
  cluster.restart(victim.name);
  const leaderStatus = await postJson(cluster.members[0]!.clientUrl, "/v3/maintenance/status", {});
  const revision = Number((leaderStatus.header as { revision: string }).revision);
  await waitFor(
    "the wiped member to catch up",
    async () => {
      const status = await postJson(victim.clientUrl, "/v3/maintenance/status", {});
      return Number((status.header as { revision: string }).revision) >= revision;
    },
    120_000,
  );
  const hashes = await Promise.all(
    cluster.members.map(async (member) => String((await postJson(member.clientUrl, "/v3/maintenance/hash", { revision })).hash)),
  );
  console.log(`wiped member rejoined; HashKV at revision ${revision}: ${hashes.join(", ")} (${new Set(hashes).size === 1 ? "equal" : "DIFFERENT"})`);
  await report(cluster, WRITES);
} finally {
  await cluster.stop();
}
