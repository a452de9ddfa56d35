/**
 * What clients saw of the cluster's availability, from the history alone:
 * the share of operations that succeeded, the rate of successes, and the
 * outages, stretches where no operation succeeded. MTTR is an outage's
 * mean length, MTBF the mean time up between outages, and availability
 * A = MTBF / (MTBF + MTTR).
 */
import { NEMESIS, type EventType, type ProcessId } from "../checker/index.js";
import type { RecordedEvent } from "./recorder.js";

/** One client operation on the timeline, in milliseconds since the run began. */
export interface TimedOperation {
  readonly process: ProcessId;
  readonly f: string;
  readonly type: Exclude<EventType, "invoke">;
  readonly start: number;
  readonly end: number;
}

export interface NemesisWindow {
  readonly start: number;
  readonly end: number;
  readonly label: string;
}

export interface Outage {
  readonly start: number;
  readonly end: number;
}

export interface Availability {
  readonly operations: number;
  readonly ok: number;
  readonly fail: number;
  readonly info: number;
  /** ok / operations. */
  readonly okShare: number;
  /** Successful operations per second of the span looked at. */
  readonly okPerSecond: number;
  readonly outages: readonly Outage[];
  readonly outageTotalMs: number;
  readonly longestOutageMs: number;
  readonly mttrMs: number;
  /** Infinity when there was no outage. */
  readonly mtbfMs: number;
  readonly availability: number;
}

/**
 * Pairs invocations with completions. An operation never completed ends,
 * as an `info`, when the run does.
 */
export function timedOperations(events: readonly RecordedEvent[]): TimedOperation[] {
  const pending = new Map<ProcessId, RecordedEvent>();
  const operations: TimedOperation[] = [];
  const runEnd = events.at(-1)?.time ?? 0;
  for (const event of events) {
    if (event.process === NEMESIS) continue;
    if (event.type === "invoke") {
      pending.set(event.process, event);
      continue;
    }
    const invoke = pending.get(event.process);
    if (invoke === undefined) continue;
    pending.delete(event.process);
    operations.push({ process: event.process, f: event.f, type: event.type, start: invoke.time, end: event.time });
  }
  for (const invoke of pending.values()) operations.push({ process: invoke.process, f: invoke.f, type: "info", start: invoke.time, end: runEnd });
  return operations.sort((a, b) => a.start - b.start);
}

/** Nemesis intervals: each `start` event runs until the next `stop` (faults here never overlap). */
export function nemesisWindows(events: readonly RecordedEvent[]): NemesisWindow[] {
  const windows: NemesisWindow[] = [];
  let open: RecordedEvent | undefined;
  for (const event of events.filter((candidate) => candidate.process === NEMESIS)) {
    if (event.f === "start") open = event;
    else if (event.f === "stop" && open !== undefined) {
      windows.push({ start: open.time, end: event.time, label: String(open.value) });
      open = undefined;
    }
  }
  if (open !== undefined) windows.push({ start: open.time, end: events.at(-1)?.time ?? open.time, label: String(open.value) });
  return windows;
}

/**
 * How an outage is told: a run of consecutive buckets of `bucketMs` in which
 * no operation succeeded, kept when it lasts at least `minMs`. Buckets rather
 * than gaps between successes, so that figures compare with runs counted the
 * same way (etcd's included) whatever the load.
 */
export interface OutageRule {
  readonly bucketMs: number;
  readonly minMs: number;
}

/** Outages between `from` and `to` under `rule`; the last bucket may be shorter. */
export function outages(operations: readonly TimedOperation[], from: number, to: number, rule: OutageRule): Outage[] {
  const buckets = throughput(operations, from, to, rule.bucketMs);
  const found: Outage[] = [];
  let start: number | undefined;
  const close = (end: number) => {
    if (start !== undefined && end - start >= rule.minMs) found.push({ start, end });
    start = undefined;
  };
  for (const bucket of buckets) {
    if (bucket.ok === 0) start ??= bucket.time;
    else close(bucket.time);
  }
  close(to);
  return found;
}

export function availability(operations: readonly TimedOperation[], from: number, to: number, rule: OutageRule): Availability {
  const count = (type: TimedOperation["type"]) => operations.filter((op) => op.type === type).length;
  const found = outages(operations, from, to, rule);
  const down = found.reduce((sum, outage) => sum + (outage.end - outage.start), 0);
  const mttrMs = found.length === 0 ? 0 : down / found.length;
  const mtbfMs = found.length === 0 ? Infinity : (to - from - down) / found.length;
  return {
    operations: operations.length,
    ok: count("ok"),
    fail: count("fail"),
    info: count("info"),
    okShare: operations.length === 0 ? 0 : count("ok") / operations.length,
    okPerSecond: to > from ? (count("ok") * 1000) / (to - from) : 0,
    outages: found,
    outageTotalMs: down,
    longestOutageMs: Math.max(0, ...found.map((outage) => outage.end - outage.start)),
    mttrMs,
    mtbfMs,
    availability: found.length === 0 ? 1 : mtbfMs / (mtbfMs + mttrMs),
  };
}

/** Latency percentiles of one kind of operation with one outcome. */
export interface LatencyRow {
  readonly f: string;
  readonly type: TimedOperation["type"];
  readonly count: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

/** Latency by function and outcome: how fast successes came, and how long failures took to be known. */
export function latencyByOutcome(operations: readonly TimedOperation[]): LatencyRow[] {
  const groups = new Map<string, number[]>();
  for (const op of operations) {
    const key = `${op.f}\u0000${op.type}`;
    const latencies = groups.get(key) ?? [];
    latencies.push(op.end - op.start);
    groups.set(key, latencies);
  }
  return [...groups]
    .map(([key, latencies]) => {
      const [f, type] = key.split("\u0000") as [string, TimedOperation["type"]];
      const sorted = latencies.sort((a, b) => a - b);
      return { f, type, count: sorted.length, p50Ms: percentile(sorted, 0.5), p99Ms: percentile(sorted, 0.99), maxMs: sorted.at(-1)! };
    })
    .sort((a, b) => a.f.localeCompare(b.f) || a.type.localeCompare(b.type));
}

/** The nearest-rank percentile of sorted values. */
export function percentile(sorted: readonly number[], share: number): number {
  return sorted[Math.max(0, Math.ceil(share * sorted.length) - 1)] ?? 0;
}

/** Completions per bucket of `bucketMs`, by outcome, from `from` to `to`. */
export function throughput(operations: readonly TimedOperation[], from: number, to: number, bucketMs: number): { time: number; ok: number; failed: number }[] {
  const buckets = Array.from({ length: Math.max(1, Math.ceil((to - from) / bucketMs)) }, (_, i) => ({ time: from + i * bucketMs, ok: 0, failed: 0 }));
  for (const op of operations) {
    const bucket = buckets[Math.floor((op.end - from) / bucketMs)];
    if (bucket === undefined) continue;
    if (op.type === "ok") bucket.ok++;
    else bucket.failed++;
  }
  return buckets;
}
