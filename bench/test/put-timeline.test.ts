/**
 * The put timeline's report: which puts count as slow, what it says they
 * met, and how it counts a member's events, on timelines made by hand.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { stallCause, type TimelineEvent } from "../src/put-timeline/events.js";
import { memberCounts, putsOf, slowPutReport } from "../src/put-timeline/report.js";

/** 198 puts of 1 ms every 10 ms on m1, one of 50 ms at 3,000 and one of 80 ms at 990, so that only the 80 ms put is over the p99. */
function m1Puts(): TimelineEvent[] {
  const fast = Array.from({ length: 198 }, (_, i): TimelineEvent => ({ kind: "put", at: i * 10, ms: 1 }));
  return [...fast, { kind: "put", at: 3_000, ms: 50 }, { kind: "put", at: 990, ms: 80 }];
}

const m2Events: TimelineEvent[] = [
  { kind: "wal", at: 1_010, ms: 20, bytes: 400 },
  { kind: "wal", at: 1_040, ms: 1, bytes: 400 },
  { kind: "stall", at: 1_050, ms: 10, onCpuMs: 1, queuedMs: 8 },
  { kind: "stall", at: 1_900, ms: 5, onCpuMs: 4, queuedMs: 0 },
  { kind: "file", at: 3_020, dir: "kv", name: "000005.ldb" },
];

function cluster(): Map<string, TimelineEvent[]> {
  return new Map([
    ["m1", [...m1Puts(), { kind: "gc", at: 1_000, ms: 5, gcKind: 1 }]],
    ["m2", m2Events],
  ]);
}

test("the report names what the puts over the p99 overlapped, on their own member and on the others", () => {
  const timelines = cluster();
  const report = slowPutReport(timelines, putsOf(timelines));
  assert.equal(report.puts, 200);
  assert.equal(report.p99, 50);
  assert.equal(report.slow, 1);
  // The 50 ms put met the LevelDB file and is not over the p99, so the file is not among the labels.
  assert.deepEqual(
    new Map(report.met),
    new Map([
      ["own member: gc", 1],
      ["any member: wal write over 3 ms", 1],
      ["any member: stall over 4 ms, run-queue", 1],
    ]),
  );
  // The slow put and the fast one at 1,000 ms overlap m1's scavenge: 2 of 200 puts.
  assert.equal(report.ownCollectionPer10k, 100);
});

test("a collection on another member is told apart from one on the member that took the put", () => {
  const timelines = cluster();
  timelines.set("m1", m1Puts());
  timelines.set("m2", [...m2Events, { kind: "gc", at: 1_060, ms: 3, gcKind: 1 }]);
  const report = slowPutReport(timelines, putsOf(timelines));
  assert.equal(report.met.get("another member: gc"), 1);
  assert.equal(report.met.get("own member: gc"), undefined);
  assert.equal(report.ownCollectionPer10k, 0);
});

test("a member's events are counted per 10,000 puts of the cluster, within the puts' span", () => {
  const timelines = cluster();
  const puts = putsOf(timelines);
  const late: TimelineEvent = { kind: "wal", at: 10_000, ms: 30, bytes: 400 };
  assert.deepEqual(memberCounts([...m2Events, late], puts), {
    scavenges: 0,
    "scavenges over 2 ms": 0,
    "other collections": 0,
    "wal writes over 3 ms": 50,
    "files created or removed": 50,
    "stalls over 4 ms, run-queue": 50,
    "stalls over 4 ms, on-cpu": 50,
  });
  assert.equal(memberCounts(timelines.get("m1") ?? [], puts)["scavenges over 2 ms"], 50);
});

test("only the puts that ended in the last window are kept when one is asked for", () => {
  const puts = putsOf(cluster(), 100);
  // The last put ends at 3,050 ms: the 50 ms put itself is the only one ending after 2,950.
  assert.deepEqual(
    puts.map((put) => put.at),
    [3_000],
  );
});

test("a late turn is blamed on what the main thread did for at least half of it", () => {
  assert.equal(stallCause({ ms: 10, onCpuMs: 6, queuedMs: 3 }), "on-cpu");
  assert.equal(stallCause({ ms: 10, onCpuMs: 2, queuedMs: 5 }), "run-queue");
  assert.equal(stallCause({ ms: 10, onCpuMs: 2, queuedMs: 3 }), "off-cpu");
});
