/**
 * Short real runs of the harness: a 3-member cluster in network namespaces,
 * register and set workloads under partitions and kills, and no anomaly
 * allowed; and the same harness catching a deliberate bug (reads served
 * locally without ReadIndex). Needs root, iproute2 and iptables; skipped,
 * saying why, without.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { promisify } from "node:util";
import { runTest, type RunOptions } from "../src/harness/run.js";

const run = promisify(execFile);

async function whyNot(): Promise<string | false> {
  if (process.getuid?.() !== 0) return "network namespaces need root";
  const missing = await Promise.all([run("ip", ["netns", "list"]), run("iptables", ["--version"])]).then(
    () => false as const,
    (error: unknown) => `ip netns or iptables unavailable: ${error instanceof Error ? error.message : String(error)}`,
  );
  return missing;
}

describe("the harness on a real cluster", async () => {
  const skip = await whyNot();
  const out = await mkdtemp(join(tmpdir(), "raftkv-harness-test-"));
  after(() => rm(out, { recursive: true, force: true }));

  const options = (workload: RunOptions["workload"], serveFlags: string[] = []): RunOptions => ({
    workload,
    nemesis: ["partition", "kill"],
    timeSeconds: 20,
    nodes: 3,
    out: join(out, `${workload}${serveFlags.length ? "-unsafe" : ""}`),
    seed: 11,
    concurrency: 6,
    serveFlags,
    driver: "local",
    composeFile: "docker-compose.yml",
    opTimeoutMs: 1_000,
    faultIntervalMs: 3_000,
    checkTimeoutMs: 60_000,
  });

  for (const workload of ["register", "set"] as const) {
    test(`${workload} under partitions and kills: no anomaly`, { skip, timeout: 120_000 }, async () => {
      const result = await runTest(options(workload), new AbortController().signal);
      assert.deepEqual(result.verdict.anomalies, []);
      assert.equal(result.verdict.valid, true, result.verdict.text);
      assert.ok(result.availability.ok > 100, `only ${result.availability.ok} operations succeeded`);
      const history = await readFile(result.historyPath, "utf8");
      assert.match(history, /"process":"nemesis"/, "no fault was injected");
    });
  }

  test("register with linearizable reads served locally (--unsafe-bugs=local-reads): stale reads are found", { skip, timeout: 120_000 }, async () => {
    const result = await runTest({ ...options("register", ["--unsafe-bugs=local-reads"]), nemesis: ["partition"] }, new AbortController().signal);
    assert.equal(result.verdict.valid, false, "the harness must catch reads that skip ReadIndex");
    assert.ok(result.verdict.anomalies.length > 0);
  });

  test("set with writes acknowledged before fsync (--unsafe-bugs=ack-before-fsync): killed members cannot recover what they acknowledged", { skip, timeout: 120_000 }, async () => {
    const result = await runTest({ ...options("set", ["--unsafe-bugs=ack-before-fsync"]), nemesis: ["kill"] }, new AbortController().signal);
    assert.equal(result.verdict.valid, false, "the harness must catch acknowledged writes that never reached the disk");
  });
});
