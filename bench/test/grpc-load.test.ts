/**
 * The parts of the gRPC benchmark that decide its figures without a
 * cluster: how a row's load is shared out among workers, the latency
 * histogram's quantiles and merging, and the choice of generator.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Histogram } from "../src/grpc/histogram.js";
import type { UnaryJob, WatchJob } from "../src/grpc/jobs.js";
import { parseOptions } from "../src/grpc/options.js";
import { jobsFor, type RowPlan } from "../src/grpc/run.js";

const PLAN: Omit<RowPlan, "row"> = { connections: 4, workers: 2, keyspace: 100, warmupS: 1, durationS: 1 };

describe("jobsFor", () => {
  test("a single call in flight uses one connection in one worker", () => {
    const jobs = jobsFor("127.0.0.1:1", { ...PLAN, row: { kind: "put", concurrency: 1 } }) as UnaryJob[];
    assert.deepEqual(
      jobs.map((job) => [job.connections, job.concurrency]),
      [[1, 1]],
    );
  });

  test("calls in flight are spread evenly over the pool's connections and the workers", () => {
    const jobs = jobsFor("127.0.0.1:1", { ...PLAN, connections: 3, row: { kind: "range", concurrency: 64 } }) as UnaryJob[];
    // 22, 21 and 21 calls on the three connections; the first worker holds two of them.
    assert.deepEqual(
      jobs.map((job) => [job.connections, job.concurrency]),
      [
        [2, 43],
        [1, 21],
      ],
    );
    assert.ok(jobs.every((job) => job.request === "range" && job.keyspace === 100));
  });

  test("watchers are spread over one stream per connection", () => {
    const jobs = jobsFor("127.0.0.1:1", { ...PLAN, row: { kind: "watch", watchers: 1_000 } }) as WatchJob[];
    assert.deepEqual(
      jobs.map((job) => job.watchers),
      [
        [250, 250],
        [250, 250],
      ],
    );
    assert.equal(new Set(jobs.map((job) => job.key)).size, 1);
  });
});

describe("Histogram", () => {
  test("quantiles fall within the 1 % buckets of the recorded values", () => {
    const histogram = Histogram.empty();
    for (let ms = 1; ms <= 1_000; ms++) histogram.record(ms);
    assert.equal(histogram.total, 1_000);
    for (const [q, expected] of [
      [0.5, 500],
      [0.99, 990],
      [1, 1_000],
    ] as const) {
      const value = histogram.quantile(q);
      assert.ok(Math.abs(value - expected) <= expected * 0.01, `q ${q}: ${value}, expected about ${expected}`);
    }
  });

  test("a delay of 0 reads as 0, and an empty histogram as 0", () => {
    const histogram = Histogram.empty();
    assert.equal(histogram.quantile(0.99), 0);
    for (let i = 0; i < 60; i++) histogram.record(0);
    for (let i = 0; i < 40; i++) histogram.record(5);
    assert.equal(histogram.quantile(0.5), 0);
    assert.ok(Math.abs(histogram.quantile(0.99) - 5) <= 0.05);
  });

  test("histograms recorded apart merge into their sum", () => {
    const fast = Histogram.empty();
    const slow = Histogram.empty();
    for (let i = 0; i < 90; i++) fast.record(1);
    for (let i = 0; i < 10; i++) slow.record(100);
    const merged = Histogram.merged([fast.toCounts(), slow.toCounts()]);
    assert.equal(merged.total, 100);
    assert.ok(Math.abs(merged.quantile(0.9) - 1) <= 0.01);
    assert.ok(Math.abs(merged.quantile(0.95) - 100) <= 1);
  });
});

describe("--generator", () => {
  test("the Node generator unless clientv3 is asked for", () => {
    assert.equal(parseOptions([], false).generator, "node");
    assert.equal(parseOptions(["--generator", "clientv3"], false).generator, "clientv3");
  });

  test("any other generator is refused with the known ones named", () => {
    assert.throws(() => parseOptions(["--generator", "benchmark"], false), /--generator takes node, clientv3, not "benchmark"/);
  });
});
