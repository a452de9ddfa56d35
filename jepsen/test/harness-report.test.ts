/** The report's computations: operations on the timeline, outages, MTTR, MTBF, availability, and the page itself. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { availability, latencyByOutcome, nemesisWindows, outages, throughput, timedOperations, type TimedOperation } from "../src/harness/availability.js";
import { markdownPhaseRows, markdownRows, renderComparison, type ComparedRun } from "../src/harness/compare.js";
import { renderReport } from "../src/harness/html.js";
import { longestLeaderlessMs, longestLeaderlessWithQuorumMs } from "../src/harness/leader-watch.js";
import { phaseFigures } from "../src/harness/phases.js";
import type { RecordedEvent } from "../src/harness/recorder.js";

const ok = (start: number, end: number): TimedOperation => ({ process: 0, f: "read", type: "ok", start, end });
const failed = (start: number, end: number): TimedOperation => ({ process: 0, f: "write", type: "info", start, end });

describe("operations on the timeline", () => {
  const events: RecordedEvent[] = [
    { process: 0, type: "invoke", f: "write", value: 1, time: 0 },
    { process: 1, type: "invoke", f: "read", time: 1 },
    { process: "nemesis", type: "info", f: "start", value: "kill n1", time: 2 },
    { process: 0, type: "ok", f: "write", time: 5 },
    { process: "nemesis", type: "info", f: "stop", value: "restart n1", time: 8 },
    { process: 0, type: "invoke", f: "read", time: 9 },
    { process: 0, type: "fail", f: "read", time: 10 },
  ];

  test("pairs completions with invocations by process; an unanswered one is info until the end", () => {
    assert.deepEqual(timedOperations(events), [
      { process: 0, f: "write", type: "ok", start: 0, end: 5 },
      { process: 1, f: "read", type: "info", start: 1, end: 10 },
      { process: 0, f: "read", type: "fail", start: 9, end: 10 },
    ]);
  });

  test("nemesis windows run from a start to the next stop", () => {
    assert.deepEqual(nemesisWindows(events), [{ start: 2, end: 8, label: "kill n1" }]);
  });
});

describe("availability", () => {
  const everyBucket = { bucketMs: 250, minMs: 250 };

  test("an outage is a run of buckets with no success, at the edges too, kept when long enough", () => {
    const operations = [ok(0, 100), ok(100, 400), failed(400, 1_300), ok(1_300, 1_600), ok(1_600, 1_700)];
    assert.deepEqual(outages(operations, 0, 2_600, everyBucket), [
      { start: 500, end: 1_500 },
      { start: 1_750, end: 2_600 },
    ]);
    assert.deepEqual(outages(operations, 0, 2_600, { bucketMs: 250, minMs: 1_000 }), [{ start: 500, end: 1_500 }]);
  });

  test("MTTR is the mean outage, MTBF the mean time up per outage, A their ratio", () => {
    const operations = [ok(0, 100), ok(1_100, 1_200), failed(1_200, 2_000), ok(2_000, 2_100), ok(2_400, 2_450)];
    const figures = availability(operations, 0, 2_500, everyBucket);
    assert.deepEqual(figures.outages, [
      { start: 250, end: 1_000 },
      { start: 1_250, end: 2_000 },
    ]);
    assert.equal(figures.outageTotalMs, 1_500);
    assert.equal(figures.mttrMs, 750);
    assert.equal(figures.mtbfMs, 500);
    assert.equal(figures.longestOutageMs, 750);
    assert.equal(figures.availability, 500 / 1_250);
    assert.deepEqual([figures.operations, figures.ok, figures.fail, figures.info], [5, 4, 0, 1]);
    assert.equal(figures.okShare, 0.8);
    assert.equal(figures.okPerSecond, 4 / 2.5);
  });

  test("no outage: MTTR 0, MTBF unbounded, A = 1", () => {
    const figures = availability([ok(0, 200), ok(200, 450), ok(450, 600), ok(600, 900)], 0, 1_000, everyBucket);
    assert.deepEqual([figures.outages.length, figures.mttrMs, figures.mtbfMs, figures.availability], [0, 0, Infinity, 1]);
  });

  test("latency by operation and outcome: nearest-rank p50 and p99, and the slowest", () => {
    const reads = Array.from({ length: 100 }, (_, i) => ok(0, i + 1));
    assert.deepEqual(latencyByOutcome([...reads, failed(0, 400)]), [
      { f: "read", type: "ok", count: 100, p50Ms: 50, p99Ms: 99, maxMs: 100 },
      { f: "write", type: "info", count: 1, p50Ms: 400, p99Ms: 400, maxMs: 400 },
    ]);
  });

  test("throughput counts completions per bucket by outcome", () => {
    assert.deepEqual(throughput([ok(0, 100), ok(0, 1_500), failed(0, 1_600)], 0, 2_000, 1_000), [
      { time: 0, ok: 1, failed: 0 },
      { time: 1_000, ok: 1, failed: 1 },
    ]);
  });
});

describe("the HTML report", () => {
  test("is one page with inline SVG charts, the faults shaded, and no external assets", () => {
    const operations = [ok(0, 12), failed(100, 1_100), { ...ok(200, 230), type: "fail" as const }];
    const windows = [{ start: 50, end: 900, label: "partition (halves): n1 -x- n2,n3" }];
    const page = renderReport({
      title: "raftkv register",
      settings: { seed: "1" },
      verdict: { valid: false, operations: 3, anomalies: [{ kind: "lost", detail: "<element 7>" }] },
      availability: availability(operations, 0, 1_200, { bucketMs: 250, minMs: 2_000 }),
      operations,
      windows,
      durationMs: 1_200,
    });
    assert.equal(page.match(/<svg /g)?.length, 2);
    assert.equal(page.match(/<circle /g)?.length, 3);
    assert.equal(page.match(/<rect [^>]*><title>partition \(halves\)/g)?.length, 2);
    assert.match(page, /INVALID/);
    assert.match(page, /&lt;element 7&gt;/);
    assert.doesNotMatch(page, /<script|<link|src=|href=/);
  });
});

describe("the leader watch", () => {
  const at = (time: number, led: boolean, quorum = true) => ({ time, led, quorum });

  test("a leaderless stretch runs from the first round without a leader to the next round with one", () => {
    assert.equal(longestLeaderlessMs([at(0, true), at(100, false), at(200, false), at(450, true), at(500, false), at(600, true)]), 350);
  });

  test("one that lasts to the end ends with the last round; none is 0", () => {
    assert.equal(longestLeaderlessMs([at(0, true), at(100, false), at(900, false)]), 800);
    assert.equal(longestLeaderlessMs([at(0, true), at(100, true)]), 0);
    assert.equal(longestLeaderlessMs([]), 0);
  });

  test("with a quorum: rounds in which too few members answered end a stretch and count for nothing", () => {
    const rounds = [at(0, true), at(100, false), at(300, false, false), at(2_000, false, false), at(2_100, false), at(2_400, true)];
    assert.equal(longestLeaderlessMs(rounds), 2_300);
    assert.equal(longestLeaderlessWithQuorumMs(rounds), 300);
  });
});

describe("the comparison page", () => {
  const run = (label: string, operations: TimedOperation[]): ComparedRun => {
    const outageRule = { bucketMs: 250, minMs: 250 };
    const windows = [{ start: 300, end: 700, label: `kill a random node: kill n1 (${label})` }];
    return {
      summary: { label, settings: { target: label }, valid: true, anomalies: 0, durationMs: 1_000, outageRule },
      operations,
      windows,
      availability: availability(operations, 0, 1_000, outageRule),
      phases: phaseFigures(operations, windows, 1_000, outageRule),
    };
  };
  const churned = run("raftkv", [ok(0, 100), failed(100, 900)]);
  const runs = [
    run("etcd", [ok(0, 100), ok(100, 300), ok(300, 600), ok(600, 900)]),
    { ...churned, summary: { ...churned.summary, longestLeaderlessMs: 1_200 } },
  ];

  test("puts the runs' figures in columns and their timelines on one chart, each run's faults in its own band", () => {
    const page = renderComparison(runs);
    assert.equal(page.match(/<svg /g)?.length, 1);
    assert.equal(page.match(/<polyline /g)?.length, 2);
    assert.match(page, /<tr><th><\/th><th>etcd<\/th><th>raftkv<\/th><\/tr>/);
    assert.match(page, /<title>kill a random node: kill n1 \(etcd\)<\/title>/);
    assert.match(page, /<title>kill a random node: kill n1 \(raftkv\)<\/title>/);
    assert.doesNotMatch(page, /<script|<link|src=|href=/);
  });

  test("gives a Markdown row per run for the README's table", () => {
    const rows = markdownRows(runs).trim().split("\n");
    assert.equal(rows.length, 4);
    assert.match(rows[2]!, /^\| etcd \| 4 \| 0 \| 0.00 s /);
    assert.match(rows[3]!, /^\| raftkv \| 1 \| 1 \| 0.75 s \| 0.75 s .*\| 1.20 s \| valid \|$/);
  });

  test("gives a Markdown row per run and phase", () => {
    const rows = markdownPhaseRows(runs).trim().split("\n");
    assert.equal(rows.length, 2 + 2 * 3);
    assert.equal(rows[3], "| etcd | follower down | 1 | 0.4 | 0 | 0.00 | 2 | 0 / 0 |");
    assert.equal(rows[6], "| raftkv | follower down | 1 | 0.4 | 1 | 2.50 | 0 | 0 / 0 |");
  });
});

describe("outages by phase", () => {
  const rule = { bucketMs: 250, minMs: 250 };
  const windows = [
    { start: 1_000, end: 2_000, label: "pause a random node: pause n1 (the leader)" },
    { start: 2_500, end: 3_500, label: "pause a random node: pause n2" },
    { start: 3_600, end: 3_700, label: "partition (halves): n1 | n2 n3" },
  ];
  const read = (start: number, end: number, type: TimedOperation["type"]): TimedOperation => ({ process: 1, f: "read", type, start, end });
  const operations = [
    ok(0, 900),
    read(1_000, 1_400, "info"),
    failed(1_100, 1_500),
    ok(1_500, 1_600),
    ok(2_000, 2_100),
    ok(2_300, 2_400),
    read(2_600, 3_000, "info"),
    ok(3_000, 3_300),
    ok(3_500, 3_900),
    ok(4_000, 4_400),
  ];
  const figures = phaseFigures(operations, windows, 5_000, rule);

  test("a window whose member led is the leader's; its buckets, successes and timed-out operations are counted apart", () => {
    assert.deepEqual(figures.get("leader down"), { windows: 1, ms: 1_000, emptyBuckets: 3, ok: 1, timedOutReads: 1, timedOutOthers: 1 });
    assert.deepEqual(figures.get("follower down"), { windows: 1, ms: 1_000, emptyBuckets: 3, ok: 1, timedOutReads: 1, timedOutOthers: 0 });
  });

  test("the second after a window is cut short by the next one, and other faults are no phase", () => {
    assert.deepEqual(figures.get("second after"), { windows: 2, ms: 1_500, emptyBuckets: 2, ok: 4, timedOutReads: 0, timedOutOthers: 0 });
  });
});
