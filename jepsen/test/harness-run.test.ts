/**
 * Short real runs of the harness: a 3-member cluster in network namespaces,
 * register and set workloads under partitions, kills and membership churn,
 * and no anomaly allowed; and the same harness catching the three
 * deliberate bugs of `--unsafe-bugs` (reads served locally without
 * ReadIndex, writes acknowledged before fsync, and old-term entries
 * committed by counting replicas, through the Figure 8 scenario), which it
 * must not find without them. Needs root, iproute2, iptables and tc;
 * skipped, saying why, without.
 */
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { runTest, type RunOptions } from "../src/harness/run.js";
import { shortRun, whyNoNamespaces } from "./support/local-runs.js";

describe("the harness on a real cluster", async () => {
  const skip = await whyNoNamespaces("iptables", "tc");
  const out = await mkdtemp(join(tmpdir(), "raftkv-harness-test-"));
  after(() => rm(out, { recursive: true, force: true }));

  /** A 20-second run on 3 members; `name` names its own output directory. */
  const options = (name: string, overrides: Partial<RunOptions> & Pick<RunOptions, "workload">): RunOptions => shortRun({ out: join(out, name), ...overrides });
  const nemesisEvents = async (historyPath: string) =>
    (await readFile(historyPath, "utf8"))
      .split("\n")
      .filter((line) => line.includes('"process":"nemesis"'))
      .map((line) => (JSON.parse(line) as { value: string }).value);

  // Seed 13 draws two membership changes and a partition; seed 11 partitions and kills.
  const safeRuns = [
    { workload: "register", nemesis: ["partition", "kill", "member"], seed: 13, shows: /is back, empty, as a voter/ },
    { workload: "set", nemesis: ["partition", "kill"], seed: 11, shows: /kill n\d/ },
  ] as const;
  for (const { workload, nemesis, seed, shows } of safeRuns) {
    test(`${workload} under ${nemesis.join(", ")}: no anomaly`, { skip, timeout: 120_000 }, async () => {
      const result = await runTest(options(workload, { workload, nemesis, seed }), new AbortController().signal);
      assert.deepEqual(result.verdict.anomalies, []);
      assert.equal(result.verdict.valid, true, result.verdict.text);
      assert.ok(result.availability.ok > 100, `only ${result.availability.ok} operations succeeded`);
      const faults = await nemesisEvents(result.historyPath);
      assert.ok(
        faults.some((fault) => shows.test(fault)),
        `no ${shows} among the faults: ${faults.join("; ")}`,
      );
    });
  }

  test("register with linearizable reads served locally (--unsafe-bugs=local-reads): stale reads are found", { skip, timeout: 120_000 }, async () => {
    const result = await runTest(
      options("local-reads", { workload: "register", nemesis: ["partition"], serveFlags: ["--unsafe-bugs=local-reads"] }),
      new AbortController().signal,
    );
    assert.equal(result.verdict.valid, false, "the harness must catch reads that skip ReadIndex");
    assert.ok(result.verdict.anomalies.length > 0);
  });

  test("set with writes acknowledged before fsync (--unsafe-bugs=ack-before-fsync): killed members cannot recover what they acknowledged", {
    skip,
    timeout: 120_000,
  }, async () => {
    const result = await runTest(
      options("ack-before-fsync", { workload: "set", nemesis: ["kill"], serveFlags: ["--unsafe-bugs=ack-before-fsync"] }),
      new AbortController().signal,
    );
    assert.equal(result.verdict.valid, false, "the harness must catch acknowledged writes that never reached the disk");
  });

  const figureEight = (name: string, serveFlags: string[], timeSeconds: number) =>
    options(name, { workload: "set", nemesis: [], scenario: "figure8", serveFlags, timeSeconds });

  test("set under the Figure 8 scenario with old-term entries committed by counting replicas (--unsafe-bugs=commit-any-term): an acknowledged add is lost", {
    skip,
    timeout: 120_000,
  }, async () => {
    // Each attempt needs its steps to land in order on a loaded machine; 40 s gives a run of CI several.
    const result = await runTest(figureEight("commit-any-term", ["--unsafe-bugs=commit-any-term"], 40), new AbortController().signal);
    const stories = (await nemesisEvents(result.historyPath)).join("\n");
    assert.equal(result.verdict.valid, false, `the harness must catch an acknowledged write a later leader overwrote; the attempts:\n${stories}`);
    assert.ok(
      result.verdict.anomalies.some((anomaly) => anomaly.kind === "lost"),
      JSON.stringify(result.verdict.anomalies),
    );
  });

  test("set under the Figure 8 scenario with the commit rule kept: the add is acknowledged and survives", { skip, timeout: 120_000 }, async () => {
    const result = await runTest(figureEight("figure-8", [], 30), new AbortController().signal);
    assert.deepEqual(result.verdict.anomalies, []);
    assert.equal(result.verdict.valid, true);
    const attempts = (await nemesisEvents(result.historyPath)).filter((event) => event.includes("X acknowledged"));
    assert.ok(attempts.length > 0, "no attempt got as far as an acknowledged X");
  });
});
