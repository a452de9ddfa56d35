/**
 * The auth workload: its check, on histories written by hand, finds each
 * kind of broken promise and nothing in a sound history; and a 20 s run on
 * raftkv under kills and partitions, with the role revoked and granted all
 * along, finds none. The run needs root and iproute2; skipped, saying why,
 * without.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import type { HistoryEvent } from "../src/checker/index.js";
import { runTest } from "../src/harness/run.js";
import { AuthWorkload } from "../src/harness/workloads/auth.js";
import type { WorkloadContext } from "../src/harness/workloads/workload.js";
import { shortRun, whyNoNamespaces } from "./support/local-runs.js";

type Step = [process: number | string, type: HistoryEvent["type"], f: string, value: HistoryEvent["value"], time: number];

function history(steps: readonly Step[]): HistoryEvent[] {
  return steps.map(([process, type, f, value, time], i) => ({ process, type, f, ...(value === undefined ? {} : { value }), time, line: i + 1 }));
}

/** The role is revoked (acknowledged at 10) until a grant is asked for at 20; root's read at 30 finds what it finds. */
function around(adds: readonly Step[], present: readonly number[]): HistoryEvent[] {
  return history([
    ["admin", "invoke", "revoke", undefined, 8],
    ["admin", "ok", "revoke", undefined, 10],
    ["admin", "invoke", "grant", undefined, 20],
    ["admin", "ok", "grant", undefined, 22],
    ...adds,
    ["final", "invoke", "read", undefined, 30],
    ["final", "ok", "read", [...present], 31],
  ]);
}

describe("the auth check", () => {
  const check = (events: HistoryEvent[]) => new AuthWorkload({} as WorkloadContext).check(events);

  test("sound: adds before the revocation and after the grant, one denied in between", () => {
    const verdict = check(
      around(
        [
          [0, "invoke", "add", 1, 1],
          [0, "ok", "add", "added", 2],
          [1, "invoke", "add", 2, 12],
          [1, "ok", "add", "denied", 13],
          [2, "invoke", "add", 3, 23],
          [2, "ok", "add", "added", 24],
          [3, "invoke", "add", 4, 9],
          [3, "info", "add", undefined, 11],
        ],
        [1, 3, 4],
      ),
    );
    assert.deepEqual(verdict.anomalies, []);
    assert.equal(verdict.valid, true);
  });

  test("each broken promise is named", () => {
    const verdict = check(
      around(
        [
          [0, "invoke", "add", 1, 1],
          [0, "ok", "add", "added", 2],
          [1, "invoke", "add", 2, 24],
          [1, "ok", "add", "denied", 25],
          [2, "invoke", "add", 3, 12],
          [2, "ok", "add", "added", 13],
          [3, "invoke", "add", 4, 14],
          [3, "fail", "add", undefined, 15],
        ],
        [2, 3, 4],
      ),
    );
    assert.deepEqual(verdict.anomalies.map((anomaly) => anomaly.kind).sort(), ["applied without permission", "denied but applied", "lost"]);
    assert.match(verdict.anomalies.find((anomaly) => anomaly.kind === "applied without permission")!.detail, /2 adds .*: 3, 4$/);
    assert.equal(verdict.valid, false);
  });
});

const skip = await whyNoNamespaces();
const out = await mkdtemp(join(tmpdir(), "raftkv-auth-test-"));
after(() => rm(out, { recursive: true, force: true }));

test("20 s on raftkv under kills and partitions while the role comes and goes: no anomaly", { skip, timeout: 240_000 }, async () => {
  const result = await runTest(shortRun({ workload: "auth", seed: 3, out }), new AbortController().signal);
  assert.equal(result.verdict.valid, true, JSON.stringify(result.verdict.anomalies));
  assert.ok(result.availability.ok > 0, "operations succeeded");
});
