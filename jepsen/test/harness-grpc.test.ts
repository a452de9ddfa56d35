/**
 * The CI run over gRPC: 20 s of the register workload on 3 raftkv members,
 * driven through etcd's gRPC API, while members are killed and the network
 * partitioned: no anomaly. Needs root, iproute2 and iptables; skipped,
 * saying why, without.
 */
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { runTest } from "../src/harness/run.js";
import { shortRun, whyNoNamespaces } from "./support/local-runs.js";

const skip = await whyNoNamespaces("iptables");
const out = await mkdtemp(join(tmpdir(), "raftkv-grpc-harness-test-"));
after(() => rm(out, { recursive: true, force: true }));

test("a register run over gRPC under kills and partitions finds no anomaly", { skip, timeout: 240_000 }, async () => {
  const result = await runTest(shortRun({ workload: "register", protocol: "grpc", out }), new AbortController().signal);
  assert.equal(result.verdict.valid, true, JSON.stringify(result.verdict.anomalies));
  assert.ok(result.availability.ok > 0, "operations succeeded");
  const faults = (await readFile(result.historyPath, "utf8")).split("\n").filter((line) => line.includes('"f":"start"'));
  assert.ok(faults.some((line) => line.includes("kill")) && faults.some((line) => line.includes("partition")), "both kinds of fault happened");
});
