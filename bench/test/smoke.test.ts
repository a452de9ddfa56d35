/**
 * Keeps the throughput command working: its smoke mode against raftkv alone
 * must produce a row for every workload and connection count, each with
 * traffic, ordered percentiles and the three servers' CPU and memory.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import type { Results } from "../src/throughput/report.js";
import { WORKLOADS } from "../src/throughput/workloads.js";
import { wrkInstalled } from "../src/throughput/wrk.js";

const THROUGHPUT = resolve(dirname(fileURLToPath(import.meta.url)), "../src/throughput.js");

function runSmoke(outDir: string): Promise<number | null> {
  // Ports apart from the default run's and from the failover benchmark's.
  const args = [THROUGHPUT, "--smoke", "--systems", "raftkv", "--out", outDir, "--base-port", "28000"];
  return new Promise((resolveExit) => spawn(process.execPath, args, { stdio: "inherit" }).on("exit", resolveExit));
}

test("throughput --smoke measures every workload against raftkv", { timeout: 60_000, skip: wrkInstalled() ? false : "wrk is not installed" }, async () => {
  const outDir = await mkdtemp(join(tmpdir(), "bench-smoke-test-"));
  try {
    assert.equal(await runSmoke(outDir), 0);
    const results = JSON.parse(await readFile(join(outDir, "results", "throughput.json"), "utf8")) as Results;
    assert.deepEqual(
      results.rows.map((row) => `${row.system} ${row.workload} ${row.connections}`),
      WORKLOADS.flatMap((workload) => [1, 16].map((connections) => `raftkv ${workload} ${connections}`)),
    );
    for (const row of results.rows) {
      const where = `${row.workload} at ${row.connections} connections`;
      assert.ok(row.throughput > 0 && row.requests > 0, `no traffic for ${where}`);
      assert.equal(row.errors, 0, `errors for ${where}`);
      const { p50, p99, p999 } = row.latencyMs;
      assert.ok(0 < p50 && p50 <= p99 && p99 <= p999, `percentiles out of order for ${where}: ${p50}, ${p99}, ${p999}`);
      assert.equal(row.nodes.length, 3);
      assert.equal(row.nodes.filter((node) => node.leader).length, 1);
      for (const node of row.nodes) assert.ok(node.cpuPercent >= 0 && node.rssMiB > 10, `implausible usage for ${node.name} in ${where}`);
    }
    assert.ok(results.fsyncFloor.p50Ms > 0);
    assert.match(await readFile(join(outDir, "RESULTS.md"), "utf8"), /\| put \| 1 \|/);
  } finally {
    await rm(outDir, { recursive: true, force: true });
  }
});
