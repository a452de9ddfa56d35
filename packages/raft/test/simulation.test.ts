/**
 * Randomized fault schedules through the deterministic simulator. Every step
 * checks the safety invariants; every schedule ends with a liveness check.
 *
 * RAFTKV_SIM_RUNS sets the number of schedules (default 5,000; RAFTKV_SOAK=1: 20,000).
 * A failure prints fast-check's seed and path; replay it exactly with
 * RAFTKV_SIM_SEED=<seed> RAFTKV_SIM_PATH=<path>.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { figureEightArbitrary, runSchedule, scheduleArbitrary, type Schedule } from "./support/schedule.js";

/** Schedules the soak once failed on, kept as regression tests. */
const REGRESSIONS: Record<string, Schedule> = {
  "a leader that removes itself must hand over, not just step down": {
    seed: 523866445,
    voters: 3,
    spares: 0,
    snapshotEvery: 0,
    proposalRate: 0.18,
    readRate: 0.09,
    faults: [
      [157, { kind: "network", dropRate: 0.11, duplicateRate: 0, maxDelay: 11 }],
      [134, { kind: "membership", change: 1, node: 0 }],
      [705, { kind: "membership", change: 1, node: 2 }],
    ],
  },
  "a leader outside the voters must confirm reads with them": {
    seed: 0,
    voters: 3,
    spares: 0,
    snapshotEvery: 0,
    proposalRate: 0,
    readRate: 0.01,
    faults: [
      [877, { kind: "isolate-leader" }],
      [870, { kind: "membership", change: 1, node: 0 }],
      [586, { kind: "membership", change: 1, node: 1 }],
    ],
  },
  "a survivor learns a committed removal from the removed member's refusal": {
    seed: 1261826757,
    voters: 3,
    spares: 0,
    snapshotEvery: 0,
    proposalRate: 0.28,
    readRate: 0.02,
    faults: [
      [933, { kind: "membership", change: 1, node: 4 }],
      [941, { kind: "crash-leader" }],
      [403, { kind: "crash-leader" }],
      [885, { kind: "membership", change: 1, node: 5 }],
      [355, { kind: "cut-link", from: 5, to: 4 }],
    ],
  },
};

for (const [name, schedule] of Object.entries(REGRESSIONS)) {
  test(`regression: ${name}`, () => {
    runSchedule(schedule);
  });
}

const runs = Number(process.env.RAFTKV_SIM_RUNS ?? (process.env.RAFTKV_SOAK ? 20_000 : 5_000));
const replay = process.env.RAFTKV_SIM_SEED ? { seed: Number(process.env.RAFTKV_SIM_SEED), path: process.env.RAFTKV_SIM_PATH } : {};

test(`random fault schedules keep every safety invariant and recover (${runs} schedules)`, { timeout: 0 }, () => {
  const totals = { applied: 0, reads: 0, snapshotsInstalled: 0, membershipChanges: 0 };
  fc.assert(
    fc.property(scheduleArbitrary, (schedule) => {
      const summary = runSchedule(schedule);
      totals.applied += summary.applied;
      totals.reads += summary.reads;
      totals.snapshotsInstalled += summary.snapshotsInstalled;
      totals.membershipChanges += summary.membershipChanges;
    }),
    { numRuns: runs, ...replay },
  );
  console.log(
    `simulated ${runs} schedules: ${totals.applied} entries applied, ${totals.reads} linearizable reads checked, ` +
      `${totals.snapshotsInstalled} snapshots installed, ${totals.membershipChanges} membership entries applied`,
  );
});

/**
 * Proof that the invariants catch a real bug: with the current-term commit
 * rule off (the Figure 8 bug), a search of Figure-8-shaped schedules from a
 * fixed seed finds a safety violation, and the schedule that broke the buggy
 * cluster runs clean with the rule on. The seed is chosen, and chosen again
 * when a change to the core changes how schedules play out: about one such
 * schedule in 800 breaks the buggy cluster (seeds 1 to 6 found one at the
 * 271st, 488th, 1,902nd, 107th, 1,472nd and 732nd), this seed at the 107th.
 */
test("with unsafeCommitAnyTerm, the schedule search finds a safety violation the correct commit rule does not have", () => {
  const bug = { unsafeCommitAnyTerm: true, maxSizePerMsg: 1 };
  const search = fc.check(
    fc.property(figureEightArbitrary, (schedule) => {
      runSchedule(schedule, bug);
    }),
    { seed: 4, numRuns: 1_000, endOnFailure: true },
  );
  assert.equal(search.failed, true, `no violation found in ${search.numRuns} schedules`);
  assert.match(String(search.errorInstance), /SafetyViolation: (Leader Completeness|State Machine Safety)/);
  const [schedule] = search.counterexample ?? [];
  assert.ok(schedule !== undefined);
  runSchedule(schedule, { maxSizePerMsg: 1 });
});
