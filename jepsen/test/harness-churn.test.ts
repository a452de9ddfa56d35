/**
 * The CI churn run: 30 s of the hot-key workload on 3 raftkv members while a
 * random member is killed every 1.5-2.5 s and restarted 0.8-1.5 s later,
 * with a 1 s election timeout. No anomaly is allowed, and while a quorum of
 * members answers, the cluster may be without a leader for at most 2.5
 * election timeouts at a stretch. Stretches without a quorum up are left out:
 * how long a killed member takes to start again depends on how loaded the
 * machine is (one such stretch lasted 5.4 s at a load average of 9), and no
 * election can end one. On a 2-core machine at a load average of 7 to 16,
 * this seed's longest stretch in all was 0.6-1.8 s after issue 15's fixes
 * and 1.6-3.5 s before them (restarted members slow to take part, peers
 * backing off from them, elections waiting out a timeout). Needs root and
 * iproute2; skipped, saying why, without.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { runTest } from "../src/harness/run.js";
import { whyNoNamespaces } from "./support/local-runs.js";

const ELECTION_TIMEOUT_MS = 1_000;
const LEADERLESS_BOUND_MS = 2.5 * ELECTION_TIMEOUT_MS;

const skip = await whyNoNamespaces();
const out = await mkdtemp(join(tmpdir(), "raftkv-churn-test-"));
after(() => rm(out, { recursive: true, force: true }));

test("30 s of churn on 3 members: no anomaly, and never long without a leader", { skip, timeout: 240_000 }, async () => {
  const result = await runTest(
    {
      target: "raftkv",
      timing: { heartbeatMs: ELECTION_TIMEOUT_MS / 10, electionMs: ELECTION_TIMEOUT_MS },
      workload: "hot-key",
      protocol: "http",
      nemesis: [],
      scenario: "churn",
      timeSeconds: 30,
      nodes: 3,
      out,
      seed: 5,
      concurrency: 8,
      serveFlags: [],
      driver: "local",
      composeFile: "docker-compose.yml",
      opTimeoutMs: 400,
      faultIntervalMs: 5_000,
      checkTimeoutMs: 60_000,
    },
    new AbortController().signal,
  );
  assert.equal(result.verdict.valid, true, JSON.stringify(result.verdict.anomalies));
  assert.ok(result.availability.ok > 0, "operations succeeded");
  const leaderless = result.longestLeaderlessWithQuorumMs ?? Infinity;
  const message = `${leaderless.toFixed(0)} ms without a leader while a quorum answered (bound ${LEADERLESS_BOUND_MS} ms; ${result.longestLeaderlessMs} ms in all)`;
  assert.ok(leaderless <= LEADERLESS_BOUND_MS, message);
});
