/**
 * Randomized fault schedules through the deterministic simulator. Every step
 * checks the safety invariants; every schedule ends with a liveness check.
 *
 * RAFTKV_SIM_RUNS sets the number of schedules (default 5,000; RAFTKV_SOAK=1: 20,000).
 * A failure prints fast-check's seed and path; replay it exactly with
 * RAFTKV_SIM_SEED=<seed> RAFTKV_SIM_PATH=<path>.
 */
import { test } from "node:test";
import fc from "fast-check";
import { runSchedule, scheduleArbitrary } from "./support/schedule.js";

const runs = Number(process.env.RAFTKV_SIM_RUNS ?? (process.env.RAFTKV_SOAK ? 20_000 : 5_000));
const replay = process.env.RAFTKV_SIM_SEED
  ? { seed: Number(process.env.RAFTKV_SIM_SEED), path: process.env.RAFTKV_SIM_PATH }
  : {};

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
