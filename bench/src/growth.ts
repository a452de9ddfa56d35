/**
 * How cost grows with the data: raftkv and etcd 3.4, each a local 3-member
 * cluster, grown to each size in turn (10k, 100k and 1M keys by default) and
 * measured at each (throughput and p99 of puts and ranges, RSS, data on disk,
 * snapshot create and install, restart to first read). The systems alternate
 * at each size, so that a noisy machine hurts both alike.
 * Run: pnpm --filter @raftkv/bench growth [--sizes 10000,100000,1000000] (--help for all)
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LocalCluster, etcdInstalled } from "./clusters.js";
import { measurePoint, type GrowthPoint } from "./growth-measure.js";
import { parseGrowthOptions, USAGE, type GrowthOptions } from "./growth-options.js";
import { growthChart, growthMarkdown, METRICS, type GrowthResults } from "./growth-report.js";
import { describeCpus, etcdVersion } from "./machine.js";
import { writeSection } from "./results-file.js";
import { wrkInstalled } from "./throughput/wrk.js";

async function main(argv: readonly string[]): Promise<number> {
  if (argv.includes("--help")) {
    console.log(USAGE);
    return 0;
  }
  const options = parseGrowthOptions(argv, etcdInstalled());
  if (!wrkInstalled()) {
    console.error("wrk is not installed: apt-get install -y wrk");
    return 1;
  }
  const startedAt = new Date().toISOString();
  const points = await measureAll(options);
  const results: GrowthResults = { startedAt, machine: { cpus: describeCpus(), node: process.version, etcd: etcdVersion() }, options, points };
  await writeResults(options.outDir, results);
  console.log(`results in ${options.outDir}`);
  return 0;
}

async function measureAll(options: GrowthOptions): Promise<GrowthPoint[]> {
  const scriptDir = await mkdtemp(join(tmpdir(), "bench-growth-wrk-"));
  const clusters: LocalCluster[] = [];
  try {
    for (const system of options.systems) {
      const memberFlags = (): string[] => [
        `--snapshot-count=${options.snapshotCount}`,
        ...(system === "raftkv" ? [`--snapshot-catchup-entries=${options.catchupEntries}`] : []),
      ];
      const launch = system === "raftkv" ? { memberFlags, nodeFlags: options.nodeFlags, env: options.env } : { memberFlags };
      clusters.push(await LocalCluster.start(system, options.basePort + (system === "etcd" ? 1000 : 0), 3, launch));
    }
    const plan = { ...options, scriptDir };
    const points: GrowthPoint[] = [];
    for (const [i, keys] of options.sizes.entries()) {
      for (const cluster of clusters) points.push(await measurePoint(cluster, options.sizes[i - 1] ?? 0, keys, plan));
    }
    return points;
  } catch (error) {
    // A failure far into a long run is looked into from the members' logs, which stop() deletes.
    const logs = join(options.outDir, "results", "growth-logs");
    for (const cluster of clusters) await cluster.keepLogs(logs);
    console.error(`the members' logs are in ${logs}`);
    throw error;
  } finally {
    await Promise.all(clusters.map((cluster) => cluster.stop()));
    await rm(scriptDir, { recursive: true, force: true });
  }
}

async function writeResults(outDir: string, results: GrowthResults): Promise<void> {
  await mkdir(join(outDir, "results"), { recursive: true });
  await writeFile(join(outDir, "results", "growth.json"), `${JSON.stringify(results, null, 2)}\n`);
  for (const metric of METRICS) await writeFile(join(outDir, "results", `growth-${metric.id}.svg`), growthChart(results, metric));
  await writeSection(join(outDir, "RESULTS.md"), "growth", growthMarkdown(results));
}

process.exitCode = await main(process.argv.slice(2));
