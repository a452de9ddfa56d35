/**
 * The member's histograms: HTTP request durations in one series per method,
 * route and status ("unknown" for requests no route matched), and the
 * unlabelled WAL and apply durations observed through their one series.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { FastifyInstance } from "fastify";
import { createApp } from "../src/http/app.js";
import { invalidArgument } from "../src/errors.js";
import { Metrics } from "../src/metrics.js";

let metrics: Metrics;
let app: FastifyInstance;

before(async () => {
  metrics = new Metrics(
    { term: () => 1, isLeader: () => true, commitIndex: () => 0, appliedIndex: () => 0 },
    { alarms: () => [], wasRemoved: () => false, storageFailed: () => false, activePeers: () => 0 },
  );
  app = createApp(metrics);
  await app.register(
    async (plugin) => {
      plugin.route({ method: ["GET", "POST"], url: "/echo/:word", handler: async (request) => request.params });
      plugin.post("/refuse", { onResponse: (_request, _reply, done) => done() }, async () => {
        throw invalidArgument("refused");
      });
    },
    { prefix: "/t" },
  );
  await app.ready();
});

after(() => app.close());

/** How many requests each series counted, keyed "method route status". */
async function counts(): Promise<Map<string, number>> {
  const { values } = await metrics.httpSeconds.get();
  const byLabels = new Map<string, number>();
  for (const value of values) {
    if (value.metricName !== "raftkv_http_request_duration_seconds_count") continue;
    byLabels.set(`${value.labels.method} ${value.labels.route} ${value.labels.status}`, value.value);
  }
  return byLabels;
}

test("each request is counted once, under its route's pattern, its method and its status", async () => {
  for (const word of ["a", "b", "c"]) assert.equal((await app.inject({ method: "GET", url: `/t/echo/${word}` })).statusCode, 200);
  assert.equal((await app.inject({ method: "POST", url: "/t/echo/d" })).statusCode, 200);
  // A route with an onResponse hook of its own keeps it, and is timed too.
  assert.equal((await app.inject({ method: "POST", url: "/t/refuse" })).statusCode, 400);
  assert.equal((await app.inject({ method: "POST", url: "/t/refuse" })).statusCode, 400);
  assert.equal((await app.inject({ method: "HEAD", url: "/t/echo/e" })).statusCode, 200);
  assert.equal((await app.inject({ method: "GET", url: "/nowhere" })).statusCode, 404);
  assert.deepEqual(
    await counts(),
    new Map([
      ["GET /t/echo/:word 200", 3],
      ["POST /t/echo/:word 200", 1],
      ["HEAD /t/echo/:word 200", 1],
      ["POST /t/refuse 400", 2],
      ["GET unknown 404", 1],
    ]),
  );
});

test("the WAL and apply durations are exposed as plain histograms, each observation counted once", async () => {
  metrics.walFsyncSeconds.observe(0.003);
  metrics.walFsyncSeconds.observe(0.0001);
  metrics.applySeconds.observe(0.02);
  const text = await metrics.registry.metrics();
  assert.match(text, /^raftkv_wal_fsync_duration_seconds_count 2$/m);
  assert.match(text, /^raftkv_wal_fsync_duration_seconds_bucket\{le="0.004"\} 2$/m);
  assert.match(text, /^raftkv_wal_fsync_duration_seconds_bucket\{le="0.002"\} 1$/m);
  assert.match(text, /^raftkv_apply_duration_seconds_count 1$/m);
  assert.match(text, /^raftkv_apply_duration_seconds_sum 0.02$/m);
});
