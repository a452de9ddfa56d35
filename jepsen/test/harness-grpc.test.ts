/**
 * The CI run over gRPC: 20 s of the register workload on 3 raftkv members,
 * driven through etcd's gRPC API, while members are killed and the network
 * partitioned: no anomaly. Needs root, iproute2 and iptables; skipped,
 * saying why, without.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { promisify } from "node:util";
import { runTest } from "../src/harness/run.js";
import { DEFAULT_TIMING } from "../src/harness/targets.js";

const run = promisify(execFile);

async function whyNot(): Promise<string | false> {
  if (process.getuid?.() !== 0) return "network namespaces need root";
  return Promise.all([run("ip", ["netns", "list"]), run("iptables", ["--version"])]).then(
    () => false as const,
    (error: unknown) => `ip netns or iptables unavailable: ${error instanceof Error ? error.message : String(error)}`,
  );
}

const skip = await whyNot();
const out = await mkdtemp(join(tmpdir(), "raftkv-grpc-harness-test-"));
after(() => rm(out, { recursive: true, force: true }));

test("a register run over gRPC under kills and partitions finds no anomaly", { skip, timeout: 240_000 }, async () => {
  const result = await runTest(
    {
      target: "raftkv",
      timing: DEFAULT_TIMING,
      workload: "register",
      protocol: "grpc",
      nemesis: ["kill", "partition"],
      timeSeconds: 20,
      nodes: 3,
      out,
      seed: 11,
      concurrency: 6,
      serveFlags: [],
      driver: "local",
      composeFile: "docker-compose.yml",
      opTimeoutMs: 1_000,
      faultIntervalMs: 3_000,
      checkTimeoutMs: 60_000,
    },
    new AbortController().signal,
  );
  assert.equal(result.verdict.valid, true, JSON.stringify(result.verdict.anomalies));
  assert.ok(result.availability.ok > 0, "operations succeeded");
  const faults = (await readFile(result.historyPath, "utf8")).split("\n").filter((line) => line.includes('"f":"start"'));
  assert.ok(faults.some((line) => line.includes("kill")) && faults.some((line) => line.includes("partition")), "both kinds of fault happened");
});
