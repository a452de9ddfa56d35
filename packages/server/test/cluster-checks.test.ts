/**
 * The pure rules behind cluster operations, as tables: the strict
 * reconfiguration check, who the corruption check blames, which peers count
 * as active, and how alarms are kept.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { ConfChangeType, type ConfState } from "@raftkv/raft";
import { AlarmRegistry, describeAlarm } from "../src/alarms.js";
import { outliers } from "../src/corruption-check.js";
import { PeerActivity } from "../src/peer-activity.js";
import { leavesStartedQuorum } from "../src/reconfig-check.js";

describe("strict reconfiguration check", () => {
  const three: ConfState = { voters: [1, 2, 3], learners: [9] };
  const cases: { name: string; type: ConfChangeType; nodeId: number; started: number[]; allowed: boolean }[] = [
    { name: "add a voter, all three started (3 of 4)", type: ConfChangeType.AddNode, nodeId: 4, started: [1, 2, 3], allowed: true },
    { name: "add a voter, one down (2 of 4)", type: ConfChangeType.AddNode, nodeId: 4, started: [1, 2], allowed: false },
    { name: "add a learner, one down", type: ConfChangeType.AddLearner, nodeId: 5, started: [1], allowed: true },
    { name: "remove a started voter, one down (1 of 2)", type: ConfChangeType.RemoveNode, nodeId: 2, started: [1, 2], allowed: false },
    { name: "remove the stopped voter (2 of 2)", type: ConfChangeType.RemoveNode, nodeId: 3, started: [1, 2], allowed: true },
    { name: "remove a learner, two down", type: ConfChangeType.RemoveNode, nodeId: 9, started: [1], allowed: true },
    { name: "promote a started learner, one down (3 of 4)", type: ConfChangeType.PromoteLearner, nodeId: 9, started: [1, 2, 9], allowed: true },
    { name: "promote a stopped learner, one down (2 of 4)", type: ConfChangeType.PromoteLearner, nodeId: 9, started: [1, 2], allowed: false },
  ];
  for (const { name, type, nodeId, started, allowed } of cases) {
    test(name, () => {
      assert.equal(
        leavesStartedQuorum({ type, nodeId }, three, (id) => started.includes(id)),
        allowed,
      );
    });
  }

  test("a voter being added never counts as started: it is launched after the change", () => {
    const two: ConfState = { voters: [1, 2], learners: [] };
    assert.equal(
      leavesStartedQuorum({ type: ConfChangeType.AddNode, nodeId: 3 }, two, () => true),
      true,
      "2 of 3",
    );
    // Were the newcomer counted, 1 and 3 would make a quorum of three.
    assert.equal(
      leavesStartedQuorum({ type: ConfChangeType.AddNode, nodeId: 3 }, two, (id) => id !== 2),
      false,
      "1 of 3",
    );
  });

  test("a started lone voter may add a second one, as in etcd", () => {
    const one: ConfState = { voters: [1], learners: [] };
    assert.equal(
      leavesStartedQuorum({ type: ConfChangeType.AddNode, nodeId: 2 }, one, (id) => id === 1),
      true,
    );
  });
});

describe("corruption check: who is blamed", () => {
  const hashes = (...pairs: [number, number][]) => pairs.map(([memberId, hash]) => ({ memberId, hash, compactRevision: 0 }));
  // biome-ignore format: a table, one case a row
  const cases: { name: string; answers: [number, number][]; blamed: number[] }[] = [
    { name: "all agree", answers: [[1, 7], [2, 7], [3, 7]], blamed: [] },
    { name: "one peer differs", answers: [[1, 7], [2, 7], [3, 8]], blamed: [3] },
    { name: "the checker differs from both peers", answers: [[1, 8], [2, 7], [3, 7]], blamed: [1] },
    { name: "a tie: the checker trusts itself", answers: [[1, 7], [2, 8]], blamed: [2] },
    { name: "three different hashes: the checker trusts itself", answers: [[1, 7], [2, 8], [3, 9]], blamed: [2, 3] },
    { name: "alone", answers: [[1, 7]], blamed: [] },
  ];
  for (const { name, answers, blamed } of cases) {
    test(name, () => assert.deepEqual(outliers(hashes(...answers), 1), blamed));
  }
});

test("a peer is active for a window after it was last heard from", () => {
  let now = 1_000;
  const activity = new PeerActivity(500, () => now);
  assert.equal(activity.isActive(2), false, "never heard");
  activity.heard(2);
  now += 500;
  assert.equal(activity.isActive(2), true);
  now += 1;
  assert.equal(activity.isActive(2), false);
});

test("alarms: raised once, cleared by member and type, kept across a reload", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "raftkv-alarms-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const alarms = await AlarmRegistry.load(dir);
  const corrupt = { memberId: 7, alarm: "CORRUPT" } as const;
  assert.deepEqual(await alarms.activate(corrupt), corrupt);
  assert.deepEqual(await alarms.activate({ ...corrupt }), corrupt, "raising it again changes nothing");
  await alarms.activate({ memberId: 3, alarm: "NOSPACE" });
  assert.deepEqual(alarms.list(), [{ memberId: 3, alarm: "NOSPACE" }, corrupt]);
  assert.deepEqual(alarms.list("CORRUPT"), [corrupt]);
  assert.equal(describeAlarm(corrupt), "memberID:7 alarm:CORRUPT ", "as etcd writes it");

  const reloaded = await AlarmRegistry.load(dir);
  assert.deepEqual(reloaded.list(), alarms.list());
  assert.equal(await reloaded.deactivate({ memberId: 7, alarm: "NOSPACE" }), undefined, "no such alarm");
  assert.deepEqual(await reloaded.deactivate(corrupt), corrupt);
  assert.equal(reloaded.isActive("CORRUPT"), false);
  assert.deepEqual((await AlarmRegistry.load(dir)).list(), [{ memberId: 3, alarm: "NOSPACE" }]);
});
