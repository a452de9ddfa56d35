/**
 * Reads the timelines recorder.ts wrote (one file per member) and says what
 * the slowest puts met: the puts over the run's p99 are matched against
 * every member's collections, late loop turns (by cause), slow WAL writes
 * and file events that overlap them, and each member's events are counted
 * per 10,000 puts, so that runs of different rates compare.
 *
 *   node bench/dist/src/put-timeline/report.js DIR [--last S]
 */
import { readFileSync, readdirSync } from "node:fs";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseProbeArgs, runProbe, wholeNumber } from "../probe-cli.js";
import { endOf, stallCause, type StallCause, type TimelineEvent } from "./events.js";

/** A WAL write or a stall counts as met by a put from this long on. */
const SLOW_WAL_MS = 3;
const LONG_STALL_MS = 4;
const SCAVENGE = 1;

type Timelines = ReadonlyMap<string, readonly TimelineEvent[]>;
type Put = Extract<TimelineEvent, { kind: "put" }> & { readonly member: string };

export function readTimelines(dir: string): Timelines {
  const timelines = new Map<string, TimelineEvent[]>();
  for (const file of readdirSync(dir).filter((name) => name.endsWith(".jsonl"))) {
    const lines = readFileSync(join(dir, file), "utf8")
      .split("\n")
      .filter((line) => line.trim() !== "");
    timelines.set(
      basename(file, ".jsonl"),
      lines.map((line) => JSON.parse(line) as TimelineEvent),
    );
  }
  return timelines;
}

/** What the puts over the p99 overlapped, by label ("m1 gc", "any member: wal over 3 ms", ...), and how many there were. */
export interface SlowPutReport {
  readonly puts: number;
  readonly p99: number;
  readonly slow: number;
  readonly met: ReadonlyMap<string, number>;
  /** Puts (all, not only slow ones) overlapping a collection of the member that took them, per 10,000. */
  readonly ownCollectionPer10k: number;
}

/** The puts of every member, those that ended in the last `lastMs` before the last one (all when undefined). */
export function putsOf(timelines: Timelines, lastMs?: number): Put[] {
  const puts = [...timelines].flatMap(([member, events]) => events.flatMap((event) => (event.kind === "put" ? [{ ...event, member }] : [])));
  const end = Math.max(...puts.map(endOf));
  return puts.filter((put) => lastMs === undefined || endOf(put) >= end - lastMs).sort((a, b) => a.at - b.at);
}

function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
}

function overlaps(event: TimelineEvent, put: Put): boolean {
  return event.at <= endOf(put) && endOf(event) >= put.at;
}

/** The labels of what a put met; each counts once per put. */
function labelsMet(timelines: Timelines, put: Put): Set<string> {
  const labels = new Set<string>();
  for (const [member, events] of timelines) {
    for (const event of events) {
      if (!overlaps(event, put)) continue;
      if (event.kind === "gc") labels.add(member === put.member ? "own member: gc" : "another member: gc");
      if (event.kind === "wal" && event.ms >= SLOW_WAL_MS) labels.add(`any member: wal write over ${SLOW_WAL_MS} ms`);
      if (event.kind === "stall" && event.ms >= LONG_STALL_MS) labels.add(`any member: stall over ${LONG_STALL_MS} ms, ${stallCause(event)}`);
      if (event.kind === "file") labels.add(`any member: file in ${event.dir}/`);
    }
  }
  return labels;
}

export function slowPutReport(timelines: Timelines, puts: readonly Put[]): SlowPutReport {
  const p99 = quantile(
    puts.map((put) => put.ms).sort((a, b) => a - b),
    0.99,
  );
  const slow = puts.filter((put) => put.ms > p99);
  const met = new Map<string, number>();
  for (const put of slow) for (const label of labelsMet(timelines, put)) met.set(label, (met.get(label) ?? 0) + 1);
  const ownCollection = puts.filter((put) => (timelines.get(put.member) ?? []).some((event) => event.kind === "gc" && overlaps(event, put))).length;
  return { puts: puts.length, p99, slow: slow.length, met, ownCollectionPer10k: (ownCollection * 1e4) / Math.max(1, puts.length) };
}

/** One member's events within the puts' span, per 10,000 puts of the whole cluster. */
export function memberCounts(events: readonly TimelineEvent[], puts: readonly Put[]): Record<string, number> {
  const from = puts[0]?.at ?? 0;
  const to = Math.max(...puts.map(endOf));
  const per10k = (count: number): number => Math.round((count * 1e4) / Math.max(1, puts.length));
  const within = events.filter((event) => event.at >= from && event.at <= to);
  const counts: Record<string, number> = {
    scavenges: 0,
    "scavenges over 2 ms": 0,
    "other collections": 0,
    [`wal writes over ${SLOW_WAL_MS} ms`]: 0,
    "files created or removed": 0,
  };
  const add = (label: string): void => {
    counts[label] = (counts[label] ?? 0) + 1;
  };
  for (const event of within) {
    if (event.kind === "gc" && event.gcKind === SCAVENGE) add(event.ms > 2 ? "scavenges over 2 ms" : "scavenges");
    if (event.kind === "gc" && event.gcKind !== SCAVENGE) add("other collections");
    if (event.kind === "stall" && event.ms >= LONG_STALL_MS) add(`stalls over ${LONG_STALL_MS} ms, ${stallCause(event) satisfies StallCause}`);
    if (event.kind === "wal" && event.ms >= SLOW_WAL_MS) add(`wal writes over ${SLOW_WAL_MS} ms`);
    if (event.kind === "file") add("files created or removed");
  }
  counts.scavenges = (counts.scavenges ?? 0) + (counts["scavenges over 2 ms"] ?? 0);
  return Object.fromEntries(Object.entries(counts).map(([label, count]) => [label, per10k(count)]));
}

function printReport(timelines: Timelines, lastMs: number | undefined): void {
  const puts = putsOf(timelines, lastMs);
  if (puts.length === 0) throw new Error("no puts in these timelines");
  const durations = puts.map((put) => put.ms).sort((a, b) => a - b);
  const at = (q: number): string => quantile(durations, q).toFixed(2);
  console.log(`${puts.length} puts, server side: p50 ${at(0.5)}, p90 ${at(0.9)}, p99 ${at(0.99)}, p99.9 ${at(0.999)} ms`);
  for (const [member, events] of timelines) {
    const counts = Object.entries(memberCounts(events, puts)).map(([label, count]) => `${label} ${count}`);
    console.log(`${member}, per 10,000 puts: ${counts.join("; ")}`);
  }
  const report = slowPutReport(timelines, puts);
  console.log(`puts overlapping a collection of the member that took them: ${report.ownCollectionPer10k.toFixed(0)} per 10,000`);
  console.log(`${report.slow} puts over the p99 (${report.p99.toFixed(2)} ms) met:`);
  for (const [label, count] of [...report.met].sort((a, b) => b[1] - a[1])) console.log(`  ${label}: ${count}`);
}

const USAGE = "usage: put-timeline-report DIR [--last S]  (S: seconds before the last put; default all)";

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  runProbe("put-timeline-report", USAGE, async () => {
    const { values, positionals } = parseProbeArgs({ options: { last: { type: "string" } }, allowPositionals: true });
    const [dir] = positionals;
    if (positionals.length !== 1 || dir === undefined) {
      console.error(USAGE);
      process.exitCode = 2;
      return;
    }
    printReport(readTimelines(dir), values.last === undefined ? undefined : wholeNumber("--last", values.last, 1) * 1000);
  });
}
