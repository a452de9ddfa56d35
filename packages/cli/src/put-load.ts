/**
 * The load behind `raftkv check perf`: etcdctl's profiles (a rate limit and
 * a number of concurrent clients), a fixed-duration run of puts at that
 * rate, and the summary and verdict etcdctl gives: throughput of at least
 * 90 % of the limit, no request slower than 0.5 s, a standard deviation of
 * at most 0.1 s. Only the run itself does I/O, through the `put` it is given.
 */
import { setTimeout as sleep } from "node:timers/promises";

export interface LoadProfile {
  /** Writes per second asked for. */
  readonly limit: number;
  /** Writes in flight at once, at most. */
  readonly clients: number;
}

/** etcdctl's `check perf --load` profiles. */
export const LOAD_PROFILES = {
  s: { limit: 150, clients: 50 },
  m: { limit: 1000, clients: 200 },
  l: { limit: 8000, clients: 500 },
  xl: { limit: 15000, clients: 1000 },
} as const satisfies Record<string, LoadProfile>;
export type LoadName = keyof typeof LOAD_PROFILES;

export const PASS_THRESHOLDS = { throughputShare: 0.9, slowestSeconds: 0.5, stddevSeconds: 0.1 } as const;

export interface LoadRun {
  /** Milliseconds each successful write took. */
  readonly latenciesMs: readonly number[];
  readonly errors: readonly string[];
  readonly elapsedMs: number;
}

/**
 * Puts at `profile.limit` writes per second for `durationMs`, from up to
 * `profile.clients` writers at once. Write n is due at start + n / limit:
 * a writer takes the next due time, waits for it, and writes, so the rate
 * holds however the latency varies (until every writer is busy).
 */
export async function runPutLoad(put: (sequence: number) => Promise<void>, profile: LoadProfile, durationMs: number): Promise<LoadRun> {
  const latenciesMs: number[] = [];
  const errors: string[] = [];
  const start = performance.now();
  const end = start + durationMs;
  let next = 0;
  const writer = async (): Promise<void> => {
    for (;;) {
      const sequence = next++;
      const due = start + (sequence * 1000) / profile.limit;
      if (due >= end) return;
      await sleep(Math.max(0, due - performance.now()));
      const sent = performance.now();
      try {
        await put(sequence);
        latenciesMs.push(performance.now() - sent);
      } catch (error) {
        errors.push(error instanceof Error ? error.message : String(error));
      }
    }
  };
  await Promise.all(Array.from({ length: profile.clients }, writer));
  return { latenciesMs, errors, elapsedMs: performance.now() - start };
}

export interface LoadSummary {
  readonly writes: number;
  readonly errors: number;
  readonly seconds: number;
  readonly throughput: number;
  /** Latencies in seconds. */
  readonly latency: {
    readonly mean: number;
    readonly stddev: number;
    readonly fastest: number;
    readonly slowest: number;
    readonly p50: number;
    readonly p90: number;
    readonly p99: number;
    readonly p999: number;
  };
}

export function summarize(run: LoadRun): LoadSummary {
  const seconds = run.latenciesMs.map((ms) => ms / 1000).sort((a, b) => a - b);
  const mean = seconds.reduce((sum, each) => sum + each, 0) / Math.max(seconds.length, 1);
  const variance = seconds.reduce((sum, each) => sum + (each - mean) ** 2, 0) / Math.max(seconds.length, 1);
  return {
    writes: seconds.length,
    errors: run.errors.length,
    seconds: run.elapsedMs / 1000,
    throughput: seconds.length / (run.elapsedMs / 1000),
    latency: {
      mean,
      stddev: Math.sqrt(variance),
      fastest: seconds[0] ?? 0,
      slowest: seconds[seconds.length - 1] ?? 0,
      p50: percentile(seconds, 0.5),
      p90: percentile(seconds, 0.9),
      p99: percentile(seconds, 0.99),
      p999: percentile(seconds, 0.999),
    },
  };
}

/** Nearest-rank percentile of ascending `sorted`. */
function percentile(sorted: readonly number[], fraction: number): number {
  return sorted[Math.max(0, Math.ceil(fraction * sorted.length) - 1)] ?? 0;
}

export interface Check {
  readonly pass: boolean;
  readonly message: string;
}

/** etcdctl's checks, in its words: each PASS or FAIL with the figure. */
export function checksOf(summary: LoadSummary, profile: LoadProfile, errors: readonly string[]): Check[] {
  const throughputPass = summary.throughput >= PASS_THRESHOLDS.throughputShare * profile.limit;
  const slowestPass = summary.latency.slowest <= PASS_THRESHOLDS.slowestSeconds;
  const stddevPass = summary.latency.stddev <= PASS_THRESHOLDS.stddevSeconds;
  const checks: Check[] = [
    { pass: throughputPass, message: `${throughputPass ? "Throughput is" : "Throughput too low:"} ${Math.round(summary.throughput)} writes/s` },
    { pass: slowestPass, message: `${slowestPass ? "Slowest request took" : "Slowest request took too long:"} ${summary.latency.slowest.toFixed(6)}s` },
    { pass: stddevPass, message: `${stddevPass ? "Stddev is" : "Stddev too high:"} ${summary.latency.stddev.toFixed(6)}s` },
  ];
  if (errors.length > 0) checks.push({ pass: false, message: `${errors.length} writes failed, first: ${errors[0]}` });
  return checks;
}
