/** When each member takes its snapshots: every `count` entries, at indexes of its own. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { ConfState, NodeId } from "@raftkv/raft";
import { snapshotDue, snapshotPhase } from "../src/snapshot-schedule.js";

const THREE: ConfState = { voters: [0x9a, 0x11, 0x5c], learners: [] };

/** The indexes at which a member takes its snapshots while applying one entry at a time, from an empty log. */
function snapshotsTaken(self: NodeId, conf: ConfState, count: number, upTo: number): number[] {
  const taken: number[] = [];
  let last = 0;
  for (let applied = 1; applied <= upTo; applied++) {
    if (!snapshotDue(last, applied, count, snapshotPhase(self, conf, count))) continue;
    taken.push(applied);
    last = applied;
  }
  return taken;
}

describe("snapshot schedule", () => {
  test("members are ranked by id, learners included, each an equal share of the count apart", () => {
    assert.deepEqual(
      [0x11, 0x5c, 0x9a].map((id) => snapshotPhase(id, THREE, 90)),
      [0, 30, 60],
    );
    assert.equal(snapshotPhase(7, { voters: [3], learners: [7] }, 100), 50);
    assert.equal(snapshotPhase(4, { voters: [4], learners: [] }, 100), 0);
  });

  test("a member missing from the configuration (being removed) takes the first rank", () => {
    assert.equal(snapshotPhase(99, THREE, 90), 0);
  });

  test("three members never snapshot at the same index, and each keeps its own interval", () => {
    const count = 1_000;
    const [lowest, middle, highest] = [0x11, 0x5c, 0x9a].map((id) => snapshotsTaken(id, THREE, count, 10_000));
    assert.deepEqual(lowest, [1_000, 2_000, 3_000, 4_000, 5_000, 6_000, 7_000, 8_000, 9_000, 10_000]);
    assert.deepEqual(middle?.slice(0, 3), [500, 1_333, 2_333]);
    assert.deepEqual(highest?.slice(0, 3), [666, 1_666, 2_666]);
    const all = [lowest, middle, highest].flatMap((taken) => taken ?? []).sort((a, b) => a - b);
    const closest = Math.min(...all.slice(1).map((index, i) => index - (all[i] ?? 0)));
    assert.equal(closest, 166);
  });

  test("after an installed snapshot at any index, the next comes between half a count and a count later", () => {
    const count = 100;
    const phase = snapshotPhase(0x5c, THREE, count);
    for (let installed = 0; installed < 3 * count; installed++) {
      let applied = installed + 1;
      while (!snapshotDue(installed, applied, count, phase)) applied++;
      assert.ok(applied - installed >= count / 2 && applied - installed <= count, `installed at ${installed}, next at ${applied}`);
    }
  });

  test("a count of one takes a snapshot at every entry", () => {
    assert.deepEqual(snapshotsTaken(0x5c, THREE, 1, 5), [1, 2, 3, 4, 5]);
  });
});
