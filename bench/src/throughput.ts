/**
 * Throughput and latency of raftkv and etcd 3.4, side by side: both run as
 * local 3-node clusters and receive the same HTTP requests on etcd's v3 JSON
 * gateway from wrk. Rows alternate between the systems, so that the noise of
 * a shared machine falls on both alike.
 * Run: pnpm --filter @raftkv/bench throughput [--duration 10] [--connections 1,16,64,256] (--help for all)
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type LocalCluster, describeMachine, etcdInstalled, profilingFlags, startSideBySide, stopSideBySide } from "./clusters.js";
import { writeSection } from "./results-file.js";
import { measureFsyncFloor } from "./throughput/fsync-floor.js";
import { parseOptions, USAGE, type Options } from "./throughput/options.js";
import { markdown, svgChart, targets, type Results } from "./throughput/report.js";
import { measureRow, preload, type Row } from "./throughput/run.js";
import { KEY_BYTES, VALUE_BYTES, wrkScript } from "./throughput/workloads.js";
import { wrkInstalled } from "./throughput/wrk.js";

async function main(argv: readonly string[]): Promise<number> {
  if (argv.includes("--help")) {
    console.log(USAGE);
    return 0;
  }
  const options = parseOptions(argv, etcdInstalled());
  if (!wrkInstalled()) {
    console.error("wrk is not installed: apt-get install -y wrk");
    return 1;
  }
  const startedAt = new Date().toISOString();
  const machine = describeMachine();
  const fsyncFloor = measureFsyncFloor(options.smoke ? 20 : 500);
  const rows = await measureAll(options);
  const results: Results = {
    startedAt,
    machine,
    settings: { durationS: options.durationS, warmupS: options.warmupS, keyspace: options.keyspace, keyBytes: KEY_BYTES, valueBytes: VALUE_BYTES },
    fsyncFloor,
    rows,
  };
  await writeResults(options.outDir, results);
  for (const t of targets(results)) console.log(`${t.met ? "met   " : "MISSED"} ${t.name}: ${t.raftkv} vs ${t.etcd} (× ${t.ratio.toFixed(2)})`);
  console.log(`results in ${options.outDir}`);
  return 0;
}

async function measureAll(options: Options): Promise<Row[]> {
  const scriptDir = await mkdtemp(join(tmpdir(), "bench-wrk-"));
  const clusters = await startClusters(options);
  try {
    const rows: Row[] = [];
    for (const workload of options.workloads) {
      const scriptPath = join(scriptDir, `${workload}.lua`);
      await writeFile(scriptPath, wrkScript(workload, options.keyspace));
      for (const connections of options.connections) {
        for (const cluster of clusters) {
          const row = await measureRow(cluster, { workload, connections, scriptPath, warmupS: options.warmupS, durationS: options.durationS });
          console.log(progressLine(row));
          rows.push(row);
        }
      }
    }
    return rows;
  } finally {
    await stopSideBySide(clusters, options.profileDir);
    await rm(scriptDir, { recursive: true, force: true });
  }
}

async function startClusters(options: Options): Promise<LocalCluster[]> {
  const clusters = await startSideBySide(options.systems, options.basePort, { nodeFlags: await profilingFlags(options.profileDir) });
  for (const cluster of clusters) await preload(cluster, options.keyspace);
  return clusters;
}

async function writeResults(outDir: string, results: Results): Promise<void> {
  await mkdir(join(outDir, "results"), { recursive: true });
  await writeFile(join(outDir, "results", "throughput.json"), `${JSON.stringify(results, null, 2)}\n`);
  await writeFile(join(outDir, "results", "throughput.svg"), svgChart(results));
  await writeSection(join(outDir, "RESULTS.md"), "throughput", markdown(results));
}

function progressLine(row: Row): string {
  const { p50, p99, p999 } = row.latencyMs;
  const cpu = row.nodes.map((n) => n.cpuPercent.toFixed(0)).join("/");
  const rss = row.nodes.map((n) => n.rssMiB.toFixed(0)).join("/");
  return `${row.system.padEnd(6)} ${row.workload.padEnd(12)} c=${String(row.connections).padEnd(3)} ${row.throughput.toFixed(0).padStart(6)} req/s  p50 ${p50.toFixed(2)}  p99 ${p99.toFixed(2)}  p99.9 ${p999.toFixed(2)} ms  errors ${row.errors}  cpu% ${cpu}  rss MiB ${rss}`;
}

process.exitCode = await main(process.argv.slice(2));
