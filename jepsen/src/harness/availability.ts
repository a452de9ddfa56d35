/**
 * What clients saw of the cluster's availability, from the history alone:
 * the share of operations that succeeded, and the outages, stretches where
 * no operation succeeded for longer than a threshold. MTTR is an outage's
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
  readonly outages: readonly Outage[];
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
 * Outages between `from` and `to`: gaps longer than `thresholdMs` between
 * successive successes (completions of `ok` operations), counting the
 * stretches before the first and after the last.
 */
export function outages(operations: readonly TimedOperation[], from: number, to: number, thresholdMs: number): Outage[] {
  const successes = operations.filter((op) => op.type === "ok").map((op) => op.end).sort((a, b) => a - b);
  const marks = [from, ...successes.filter((time) => time > from && time < to), to];
  const found: Outage[] = [];
  for (let i = 1; i < marks.length; i++) {
    if (marks[i]! - marks[i - 1]! > thresholdMs) found.push({ start: marks[i - 1]!, end: marks[i]! });
  }
  return found;
}

export function availability(operations: readonly TimedOperation[], from: number, to: number, thresholdMs: number): Availability {
  const count = (type: TimedOperation["type"]) => operations.filter((op) => op.type === type).length;
  const found = outages(operations, from, to, thresholdMs);
  const down = found.reduce((sum, outage) => sum + (outage.end - outage.start), 0);
  const mttrMs = found.length === 0 ? 0 : down / found.length;
  const mtbfMs = found.length === 0 ? Infinity : (to - from - down) / found.length;
  return {
    operations: operations.length,
    ok: count("ok"),
    fail: count("fail"),
    info: count("info"),
    okShare: operations.length === 0 ? 0 : count("ok") / operations.length,
    outages: found,
    longestOutageMs: Math.max(0, ...found.map((outage) => outage.end - outage.start)),
    mttrMs,
    mtbfMs,
    availability: found.length === 0 ? 1 : mtbfMs / (mtbfMs + mttrMs),
  };
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
