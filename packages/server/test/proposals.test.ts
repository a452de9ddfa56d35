/** Writes waiting for their apply: answered when applied, timed out at their own deadline, one timer for all. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { isEtcdError } from "../src/errors.js";
import { ProposalTracker } from "../src/proposals.js";
import { Scheduler } from "./sim/support/scheduler.js";

const TIMEOUT_MS = 1_000;

/** What became of a wait so far. */
function outcomeOf(waiting: Promise<unknown>): { state: "pending" | "answered" | "timed out" | "failed"; value?: unknown } {
  const outcome: ReturnType<typeof outcomeOf> = { state: "pending" };
  waiting.then(
    (value) => Object.assign(outcome, { state: "answered", value }),
    (error: unknown) => Object.assign(outcome, { state: isEtcdError(error, "timeout") ? "timed out" : "failed" }),
  );
  return outcome;
}

test("each waiter times out at its own deadline unless answered first, in the order they came", async () => {
  const scheduler = new Scheduler();
  const tracker = new ProposalTracker(TIMEOUT_MS, scheduler.clockFor("member"));
  const first = outcomeOf(tracker.wait("a", 1));
  await scheduler.runUntil(100);
  const second = outcomeOf(tracker.wait("b", 1));
  await scheduler.runUntil(300);
  const third = outcomeOf(tracker.wait("c", 1));
  tracker.resolve("b", "applied");

  await scheduler.runUntil(TIMEOUT_MS - 1);
  assert.equal(first.state, "pending");
  await scheduler.runUntil(TIMEOUT_MS);
  assert.deepEqual([first.state, second, third.state], ["timed out", { state: "answered", value: "applied" }, "pending"]);
  await scheduler.runUntil(300 + TIMEOUT_MS - 1);
  assert.equal(third.state, "pending");
  await scheduler.runUntil(300 + TIMEOUT_MS);
  assert.equal(third.state, "timed out");

  // A late answer finds nobody waiting, and a new wait gets a whole timeout of its own.
  tracker.resolve("c", "too late");
  const fourth = outcomeOf(tracker.wait("d", 1));
  await scheduler.runUntil(300 + 2 * TIMEOUT_MS - 1);
  assert.equal(fourth.state, "pending");
  await scheduler.runUntil(300 + 2 * TIMEOUT_MS);
  assert.equal(fourth.state, "timed out");
});

test("once nobody waits, no timer is left pending", async () => {
  const scheduler = new Scheduler();
  const clock = scheduler.clockFor("member");
  let pending = 0;
  const counting = {
    ...clock,
    setTimeout: (callback: () => void, ms: number) => {
      pending++;
      return clock.setTimeout(() => {
        pending--;
        callback();
      }, ms);
    },
    clearTimeout: (timer: Parameters<typeof clock.clearTimeout>[0]) => {
      pending--;
      clock.clearTimeout(timer);
    },
  };
  const tracker = new ProposalTracker(TIMEOUT_MS, counting);
  const waits = ["a", "b", "c"].map((id) => outcomeOf(tracker.wait(id, 1)));
  assert.equal(pending, 1);
  tracker.resolve("a", 1);
  tracker.reject("b", new Error("refused"));
  assert.equal(pending, 1);
  tracker.rejectProposedElsewhere(2, new Error("leader changed"));
  await scheduler.runUntil(0);
  assert.deepEqual(
    waits.map((wait) => wait.state),
    ["answered", "failed", "failed"],
  );
  assert.equal(pending, 0);
});
