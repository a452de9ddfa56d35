/**
 * What the leader knows of each follower, on its own and as tables: the
 * in-flight window, one follower's progress through probe / replicate /
 * snapshot, and the tracker over a configuration (commit, votes, activity).
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { VoteResult } from "../src/quorum.js";
import { Inflights } from "../src/tracker/inflights.js";
import { Progress, ProgressState } from "../src/tracker/progress.js";
import { mostCaughtUp, ProgressTracker } from "../src/tracker/tracker.js";
import { NONE, type ConfState, type NodeId } from "../src/types.js";

const WINDOW = 2;

interface Start {
  readonly state: ProgressState;
  readonly match: number;
  /** Probe only: the next index to send (default match + 1). */
  readonly next?: number;
  /** Probe only: an append is out unanswered. */
  readonly probeSent?: boolean;
  /** Replicate only: last indexes of the appends in flight. */
  readonly inflight?: readonly number[];
  /** Snapshot only: the snapshot's index. */
  readonly pendingSnapshot?: number;
}

/** Builds a follower's progress in the given state through its own transitions. */
function progressAt(start: Start): Progress {
  const progress = new Progress(start.next ?? start.match + 1, WINDOW, false);
  progress.match = start.match;
  if (start.state === ProgressState.Replicate) {
    progress.becomeReplicate();
    for (const last of start.inflight ?? []) progress.sentAppend(1, last);
  } else if (start.state === ProgressState.Snapshot) {
    progress.becomeSnapshot(start.pendingSnapshot ?? 0);
  } else if (start.probeSent) {
    progress.sentAppend(1, progress.next);
  }
  return progress;
}

const view = (progress: Progress) => ({
  state: progress.state,
  match: progress.match,
  next: progress.next,
  paused: progress.isPaused(),
});

const { Probe, Replicate, Snapshot } = ProgressState;

describe("inflight window", () => {
  test("it fills, frees by acknowledgement, and keeps index order", () => {
    const window = new Inflights(3);
    for (const last of [10, 20, 30]) window.add(last);
    assert.ok(window.full());
    assert.throws(() => window.add(40), /full/);
    window.freeUpTo(20);
    assert.throws(() => window.add(25), /index order/);
    window.add(40);
    assert.ok(!window.full(), "only 30 and 40 are out");
    window.freeFirst();
    window.add(50);
    window.add(60);
    assert.ok(window.full(), "40, 50 and 60 are out");
  });
});

describe("progress of one follower", () => {
  test("an acknowledged append", () => {
    // biome-ignore format: a table, one case a row
    const cases: [string, Start, number, boolean, ReturnType<typeof view>][] = [
      ["a probe that matched starts pipelining", { state: Probe, match: 3, probeSent: true }, 5, true, { state: Replicate, match: 5, next: 6, paused: false }],
      ["a stale acknowledgement teaches nothing", { state: Probe, match: 3, probeSent: true }, 2, false, { state: Probe, match: 3, next: 4, paused: true }],
      ["a pipelined acknowledgement frees the window", { state: Replicate, match: 5, inflight: [7, 9] }, 7, true, { state: Replicate, match: 7, next: 10, paused: false }],
      ["a stale one leaves a full window full", { state: Replicate, match: 5, inflight: [7, 9] }, 4, false, { state: Replicate, match: 5, next: 10, paused: true }],
      ["a delivered snapshot resumes probing above it", { state: Snapshot, match: 3, pendingSnapshot: 50 }, 50, true, { state: Probe, match: 50, next: 51, paused: false }],
      ["an acknowledgement below the snapshot keeps waiting", { state: Snapshot, match: 3, pendingSnapshot: 50 }, 20, true, { state: Snapshot, match: 20, next: 21, paused: true }],
    ];
    for (const [name, start, index, learnt, expected] of cases) {
      const progress = progressAt(start);
      assert.equal(progress.appendAccepted(index), learnt, name);
      assert.deepEqual(view(progress), expected, name);
    }
  });

  test("a rejected append", () => {
    // biome-ignore format: a table, one case a row
    const cases: [string, Start, [rejected: number, hint: number], boolean, ReturnType<typeof view>][] = [
      ["a probe backs off to the hint", { state: Probe, match: 3, next: 11, probeSent: true }, [10, 6], true, { state: Probe, match: 3, next: 7, paused: false }],
      ["a rejection of another probe is stale", { state: Probe, match: 3, next: 11, probeSent: true }, [9, 6], false, { state: Probe, match: 3, next: 11, paused: true }],
      ["never below the match", { state: Probe, match: 3, next: 7 }, [6, 0], true, { state: Probe, match: 3, next: 4, paused: false }],
      ["a pipelined follower falls back to probing", { state: Replicate, match: 5, inflight: [7, 9] }, [7, 6], true, { state: Probe, match: 5, next: 6, paused: false }],
      ["a rejection at or below the match is stale", { state: Replicate, match: 5, inflight: [7] }, [5, 2], false, { state: Replicate, match: 5, next: 8, paused: false }],
    ];
    for (const [name, start, [rejected, hint], accepted, expected] of cases) {
      const progress = progressAt(start);
      assert.equal(progress.appendRejected(rejected, hint), accepted, name);
      assert.deepEqual(view(progress), expected, name);
    }
  });

  test("heartbeat answers, unreachable peers and snapshot reports", () => {
    // biome-ignore format: a table, one case a row
    const cases: [string, Start, (p: Progress) => void, ReturnType<typeof view>][] = [
      ["a heartbeat answer lets a waiting probe go again", { state: Probe, match: 3, probeSent: true }, (p) => p.heartbeatAnswered(), { state: Probe, match: 3, next: 4, paused: false }],
      ["a heartbeat answer frees the oldest append of a full window", { state: Replicate, match: 5, inflight: [7, 9] }, (p) => p.heartbeatAnswered(), { state: Replicate, match: 5, next: 10, paused: false }],
      ["an unreachable pipelined follower is probed", { state: Replicate, match: 5, inflight: [7, 9] }, (p) => p.unreachable(), { state: Probe, match: 5, next: 6, paused: false }],
      ["an unreachable probed follower stays probed", { state: Probe, match: 3, next: 8, probeSent: true }, (p) => p.unreachable(), { state: Probe, match: 3, next: 8, paused: true }],
      ["a delivered snapshot: probe above it once the follower answers", { state: Snapshot, match: 3, pendingSnapshot: 50 }, (p) => p.snapshotReported(true), { state: Probe, match: 3, next: 51, paused: true }],
      ["a failed snapshot: probe above the match", { state: Snapshot, match: 3, pendingSnapshot: 50 }, (p) => p.snapshotReported(false), { state: Probe, match: 3, next: 4, paused: true }],
      ["a snapshot report outside the snapshot state is ignored", { state: Probe, match: 3 }, (p) => p.snapshotReported(true), { state: Probe, match: 3, next: 4, paused: false }],
    ];
    for (const [name, start, act, expected] of cases) {
      const progress = progressAt(start);
      act(progress);
      assert.deepEqual(view(progress), expected, name);
    }
  });

  test("probe sends one append at a time; replicate pipelines up to the window", () => {
    const progress = progressAt({ state: Probe, match: 4 });
    progress.sentAppend(1, 5);
    assert.deepEqual(view(progress), { state: Probe, match: 4, next: 5, paused: true });
    assert.ok(progress.appendAccepted(5));
    progress.sentAppend(3, 8);
    progress.sentAppend(2, 10);
    assert.deepEqual(view(progress), { state: Replicate, match: 5, next: 11, paused: true });
  });
});

describe("tracker", () => {
  const conf = (voters: NodeId[], learners: NodeId[] = []): ConfState => ({ voters, learners });
  const matches = (tracker: ProgressTracker) => [...tracker.progress].map(([id, p]) => [id, p.match, p.next, p.isLearner]);

  test("a configuration keeps known members' progress and probes new ones from the end of the log", () => {
    const tracker = new ProgressTracker(WINDOW);
    tracker.setConf(conf([1, 2, 3]), 10);
    tracker.progress.get(2)?.appendAccepted(7);
    tracker.setConf(conf([1, 2], [4]), 12);
    assert.deepEqual(matches(tracker), [
      [1, 0, 11, false],
      [2, 7, 8, false],
      [4, 0, 13, true],
    ]);
    // A promoted learner gets a voter's progress and keeps where its log stands.
    tracker.progress.get(4)?.appendAccepted(12);
    tracker.setConf(conf([1, 2, 4]), 12);
    assert.deepEqual(matches(tracker), [
      [1, 0, 11, false],
      [2, 7, 8, false],
      [4, 12, 13, false],
    ]);
    assert.deepEqual([...tracker.voters], [1, 2, 4]);
    assert.ok(tracker.isVoter(4) && !tracker.isVoter(3));
  });

  test("a new term forgets every member's progress but the leader's own", () => {
    const tracker = new ProgressTracker(WINDOW);
    tracker.setConf(conf([1, 2], [3]), 5);
    tracker.progress.get(2)?.appendAccepted(5);
    tracker.resetProgress(9, 1, 8);
    assert.deepEqual(matches(tracker), [
      [1, 8, 10, false],
      [2, 0, 10, false],
      [3, 0, 10, true],
    ]);
  });

  test("only voters count toward commitment", () => {
    const cases: [ConfState, Record<NodeId, number>, number][] = [
      [conf([1]), { 1: 4 }, 4],
      [conf([1, 2, 3]), { 1: 9, 2: 5, 3: 1 }, 5],
      [conf([1, 2, 3], [4, 5]), { 1: 9, 2: 1, 3: 1, 4: 9, 5: 9 }, 1],
      [conf([1, 2, 3, 4]), { 1: 9, 2: 8, 3: 2, 4: 1 }, 2],
    ];
    for (const [configuration, byMember, expected] of cases) {
      const tracker = new ProgressTracker(WINDOW);
      tracker.setConf(configuration, 0);
      for (const [id, match] of Object.entries(byMember)) tracker.progress.get(Number(id))?.appendAccepted(match);
      assert.equal(tracker.committed(), expected, JSON.stringify(byMember));
    }
  });

  test("check-quorum counts the leader and the voters heard from, then starts a new period", () => {
    const cases: [ConfState, NodeId[], boolean][] = [
      [conf([1, 2, 3]), [2], true],
      [conf([1, 2, 3]), [], false],
      [conf([1, 2, 3], [4, 5]), [4, 5], false],
      [conf([1, 2, 3, 4, 5]), [2, 3], true],
      [conf([1, 2, 3, 4, 5]), [2], false],
    ];
    for (const [configuration, heard, active] of cases) {
      const tracker = new ProgressTracker(WINDOW);
      tracker.setConf(configuration, 0);
      for (const progress of tracker.progress.values()) progress.recentActive = false;
      for (const id of heard) tracker.progress.get(id)!.recentActive = true;
      assert.equal(tracker.quorumActive(1), active, `heard from ${heard}`);
      assert.equal(tracker.quorumActive(1), configuration.voters.length === 1, "the next period starts with nobody heard");
    }
  });

  test("votes are counted among voters only, and reset", () => {
    const tracker = new ProgressTracker(WINDOW);
    tracker.setConf(conf([1, 2, 3, 4, 5], [6]), 0);
    const steps: [NodeId, boolean, VoteResult][] = [
      [1, true, VoteResult.Pending],
      [6, true, VoteResult.Pending],
      [2, false, VoteResult.Pending],
      [3, true, VoteResult.Pending],
      [4, true, VoteResult.Won],
    ];
    for (const [id, granted, result] of steps) assert.equal(tracker.recordVote(id, granted), result, `vote of ${id}`);
    tracker.resetVotes();
    assert.equal(tracker.recordVote(2, false), VoteResult.Pending);
    assert.equal(tracker.recordVote(3, false), VoteResult.Pending);
    assert.equal(tracker.recordVote(4, false), VoteResult.Lost);
  });

  test("the most caught-up voter is the successor; the first listed wins a tie", () => {
    const cases: [NodeId[], Record<NodeId, number>, NodeId][] = [
      [[2, 3], { 2: 5, 3: 9 }, 3],
      [[2, 3], { 2: 9, 3: 9 }, 2],
      [[3, 2], { 2: 9, 3: 9 }, 3],
      [[2, 3], { 3: 0 }, 3],
      [[2], {}, NONE],
      [[], {}, NONE],
    ];
    for (const [candidates, byMember, expected] of cases) {
      assert.equal(
        mostCaughtUp(candidates, (id) => byMember[id]),
        expected,
        JSON.stringify(byMember),
      );
    }
    const tracker = new ProgressTracker(WINDOW);
    tracker.setConf(conf([2, 3], [4]), 0);
    tracker.progress.get(3)?.appendAccepted(4);
    tracker.progress.get(4)?.appendAccepted(9);
    assert.equal(tracker.mostCaughtUpVoter(), 3, "a learner is never the successor");
  });
});
