/**
 * Drives a cluster with wrk, the load generator in C: cheap enough on a
 * 2-core machine to leave most of the CPU to the servers, and outside the
 * systems under test so that raftkv and etcd are loaded the same way.
 *
 * One wrk process per member, each with its share of the connections, so the
 * requests are spread evenly over the members; their latency reports are then
 * merged into one distribution.
 */
import { spawn, spawnSync } from "node:child_process";

/** wrk's own limit: latencies above it count as timeouts, not samples. */
const TIMEOUT_S = 2;

export interface Target {
  readonly url: string;
  readonly connections: number;
}

export interface LoadResult {
  /** Successful (2xx) requests per second, summed over the members. */
  readonly throughput: number;
  readonly requests: number;
  readonly errors: number;
  readonly latencyMs: { readonly p50: number; readonly p99: number; readonly p999: number };
}

/** What one wrk process reports through the script's done(). */
interface WrkReport {
  requests: number;
  durationUs: number;
  errors: { connect: number; read: number; write: number; status: number; timeout: number };
  quantiles: [percentile: number, latencyUs: number][];
}

/**
 * What a script writes (and flushes) once its process has sent its share of
 * a fixed number of requests: wrk is then interrupted as Ctrl-C would, and
 * still reports. A row's duration is then only its limit.
 */
export const BUDGET_SPENT = "BENCH_BUDGET_SPENT";

export function wrkInstalled(): boolean {
  return spawnSync("wrk", ["--version"], { stdio: "ignore" }).error === undefined;
}

/**
 * Splits the connections over the members as evenly as possible, the first
 * members (the leader comes first) taking the remainder; members left with
 * none get no wrk process.
 */
export function spreadConnections(urls: readonly string[], connections: number): Target[] {
  return urls
    .map((url, i) => ({ url, connections: Math.floor(connections / urls.length) + (i < connections % urls.length ? 1 : 0) }))
    .filter((target) => target.connections > 0);
}

export async function runWrk(targets: readonly Target[], scriptPath: string, durationS: number, seed: number): Promise<LoadResult> {
  const reports = await Promise.all(targets.map((target, i) => runOne(target, scriptPath, durationS, seed + i)));
  return merge(reports);
}

function runOne(target: Target, scriptPath: string, durationS: number, seed: number): Promise<WrkReport> {
  const args = ["-t1", `-c${target.connections}`, `-d${durationS}s`, `--timeout`, `${TIMEOUT_S}s`, "-s", scriptPath, target.url, "--", String(seed)];
  return new Promise((resolve, reject) => {
    const child = spawn("wrk", args, { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes(BUDGET_SPENT) && child.exitCode === null) child.kill("SIGINT");
    });
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.on("error", reject);
    // "close", not "exit": the process can exit before its output has all been read.
    child.on("close", (code) => {
      const line = output.split("\n").find((l) => l.startsWith("BENCH_RESULT "));
      if (code !== 0 || !line) reject(new Error(`wrk ${args.join(" ")} exited with ${code}:\n${output}`));
      else resolve(JSON.parse(line.slice("BENCH_RESULT ".length)) as WrkReport);
    });
  });
}

function merge(reports: readonly WrkReport[]): LoadResult {
  const ok = (r: WrkReport): number => r.requests - r.errors.status;
  const errorCount = (r: WrkReport): number => Object.values(r.errors).reduce((sum, n) => sum + n, 0);
  const quantile = mergedQuantiles(reports);
  return {
    throughput: reports.reduce((sum, r) => sum + ok(r) / (r.durationUs / 1e6), 0),
    requests: reports.reduce((sum, r) => sum + r.requests, 0),
    errors: reports.reduce((sum, r) => sum + errorCount(r), 0),
    latencyMs: { p50: quantile(50), p99: quantile(99), p999: quantile(99.9) },
  };
}

/**
 * Each process's grid point p_i stands for the requests between p_(i-1) and
 * p_i of its distribution; weighting those by the process's request count
 * gives the distribution of all requests, read back at any percentile.
 */
function mergedQuantiles(reports: readonly WrkReport[]): (percentile: number) => number {
  const points = reports
    .flatMap((report) =>
      report.quantiles.map(([p, latencyUs], i) => ({
        latencyUs,
        weight: (report.requests * (p - (report.quantiles[i - 1]?.[0] ?? 0))) / 100,
      })),
    )
    .filter((point) => point.weight > 0)
    .sort((a, b) => a.latencyUs - b.latencyUs);
  const total = points.reduce((sum, point) => sum + point.weight, 0);
  return (percentile) => {
    let seen = 0;
    for (const point of points) {
      seen += point.weight;
      if (seen >= (percentile / 100) * total) return point.latencyUs / 1000;
    }
    return Number.NaN;
  };
}
