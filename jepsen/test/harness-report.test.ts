/** The report's computations: operations on the timeline, outages, MTTR, MTBF, availability, and the page itself. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { availability, nemesisWindows, outages, throughput, timedOperations, type TimedOperation } from "../src/harness/availability.js";
import { renderReport } from "../src/harness/html.js";
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
  test("an outage is a gap between successes longer than the threshold, at the edges too", () => {
    const operations = [ok(0, 500), ok(500, 1_000), failed(1_000, 4_000), ok(4_000, 5_000), ok(5_000, 6_000)];
    assert.deepEqual(outages(operations, 0, 10_000, 2_000), [
      { start: 1_000, end: 5_000 },
      { start: 6_000, end: 10_000 },
    ]);
  });

  test("MTTR is the mean outage, MTBF the mean time up per outage, A their ratio", () => {
    const operations = [ok(0, 1_000), ok(3_000, 4_000), failed(4_000, 7_000), ok(7_000, 8_000), ok(9_000, 10_000)];
    const figures = availability(operations, 0, 10_000, 2_000);
    assert.deepEqual(figures.outages, [
      { start: 1_000, end: 4_000 },
      { start: 4_000, end: 8_000 },
    ]);
    assert.equal(figures.mttrMs, 3_500);
    assert.equal(figures.mtbfMs, 1_500);
    assert.equal(figures.longestOutageMs, 4_000);
    assert.equal(figures.availability, 1_500 / 5_000);
    assert.deepEqual([figures.operations, figures.ok, figures.fail, figures.info], [5, 4, 0, 1]);
    assert.equal(figures.okShare, 0.8);
  });

  test("no outage: MTTR 0, MTBF unbounded, A = 1", () => {
    const figures = availability([ok(0, 900), ok(900, 1_800)], 0, 2_000, 1_000);
    assert.deepEqual([figures.outages.length, figures.mttrMs, figures.mtbfMs, figures.availability], [0, 0, Infinity, 1]);
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
      availability: availability(operations, 0, 1_200, 2_000),
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
