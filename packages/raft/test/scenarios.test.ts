/**
 * The classic cases, one readable story each. Every step of every story is
 * also checked by the simulator's safety invariants.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ConfChangeType, MessageType, Role, type Message, type NodeId } from "../src/index.js";
import { Cluster, type ClusterOptions } from "./support/cluster.js";

function cluster(options: Partial<ClusterOptions> = {}): Cluster {
  return new Cluster({ voters: 3, seed: 7, ...options });
}

/** Makes `id` campaign and lets the election finish. */
function elect(c: Cluster, id: NodeId): void {
  c.campaign(id);
  c.stabilize();
  assert.equal(c.node(id).status().role, Role.Leader, `node ${id} should have won`);
}

function status(c: Cluster, id: NodeId) {
  return c.node(id).status();
}

/** Delivers messages until quiet, losing those `lose` selects. */
function stabilizeLosing(c: Cluster, lose: (m: Message) => boolean): void {
  for (let round = 0; round < 1000; round++) {
    for (const id of c.aliveIds()) {
      c.runLoopHalf(id);
      c.runLoopHalf(id);
    }
    c.dropInFlight(lose);
    if (c.inFlightMessages().length === 0 && c.aliveIds().every((id) => !c.node(id).hasReady())) return;
    c.deliverAll();
  }
  throw new Error("did not stabilize");
}


/**
 * Figure 8 of the Raft paper, steps (a) to (c): an entry X of term 2 ends up
 * on a majority (1, 2, 3), copied there by the leader of term 4, while node 5
 * holds an entry of term 3 at X's index, and 3 and 4 have nothing newer than
 * term 2. Returns X's index and the two terms.
 */
function figureEightUpToTerm4(c: Cluster): { x: number; term2: number; term3: number } {
  elect(c, 1);
  const base = status(c, 1).lastIndex;
  const term2 = status(c, 1).hardState.term;

  // (a) Leader 1 replicates X only to node 2.
  c.partition([1, 2], [3, 4, 5]);
  c.propose(1);
  c.stabilize();
  const x = base + 1;
  assert.equal(c.node(2).entryTerm(x), term2);

  // (b) 1 crashes; 5 wins with 3 and 4 and appends at index x, but nothing leaves.
  c.crash(1, { peersNotice: false });
  c.partition([2], [3, 4, 5]);
  c.campaign(5);
  stabilizeLosing(c, (m) => m.type === MessageType.App && m.entries.length > 0);
  assert.equal(status(c, 5).role, Role.Leader);
  const term3 = status(c, 5).hardState.term;
  assert.equal(c.node(5).entryTerm(x), term3);
  c.crash(5, { peersNotice: false });

  // (c) 1 returns and wins term 4 with 2 and 3, then copies X to 3 but not its own entry
  // (2, which has X, gets that entry too: 1 learns from 2's acknowledgement that 2 holds X).
  c.start(1);
  c.partition([1, 2, 3], [4, 5]);
  // Lose exactly the appends that would give 3 the new leader's own entry.
  const newerThanTerm3 = (m: Message) =>
    m.to === 3 && m.entries.some((entry) => entry.term > term3) && c.node(m.to).entryTerm(m.index) === m.logTerm;
  for (let attempt = 0; attempt < 5 && status(c, 1).role !== Role.Leader; attempt++) {
    c.campaign(1);
    stabilizeLosing(c, newerThanTerm3);
  }
  assert.equal(status(c, 1).role, Role.Leader);
  stabilizeLosing(c, newerThanTerm3);
  assert.equal(c.node(3).entryTerm(x), term2, "X is now on a majority: 1, 2 and 3");
  return { x, term2, term3 };
}

/** Figure 8 (d): 1 crashes and 5 wins with 3 and 4, replacing X with its own entry everywhere. */
function figureEightNodeFiveWins(c: Cluster): void {
  c.crash(1, { peersNotice: false });
  c.start(5);
  c.partition([2, 3, 4, 5], [1]);
  for (let attempt = 0; attempt < 5 && status(c, 5).role !== Role.Leader; attempt++) {
    c.campaign(5);
    c.stabilize();
  }
  assert.equal(status(c, 5).role, Role.Leader);
  c.stabilize();
}

describe("Figure 8: a leader never commits an old term's entry by counting replicas", () => {
  // Pre-vote and check-quorum off: this is the paper's own setting.
  const paper = { voters: 5, preVote: false, checkQuorum: false, maxSizePerMsg: 1 };

  test("an entry of term 2 stored on a majority is not committed by the leader of term 4", () => {
    const c = cluster(paper);
    const { x, term3 } = figureEightUpToTerm4(c);
    assert.ok(status(c, 1).hardState.commit < x, "but the leader of term 4 must not commit it");

    // (d) 5 can still win and replace X with its own entry: X was never committed.
    figureEightNodeFiveWins(c);
    for (const id of [2, 3, 4, 5]) assert.equal(c.node(id).entryTerm(x), term3, `node ${id} holds 5's entry at ${x}`);
  });

  test("with the bug (unsafeCommitAnyTerm) the leader of term 4 commits X, and the invariants catch its loss", () => {
    const c = cluster({ ...paper, unsafeCommitAnyTerm: true });
    const { x } = figureEightUpToTerm4(c);
    assert.ok(status(c, 1).hardState.commit >= x, "the buggy leader counts X's replicas and commits it");
    assert.throws(() => figureEightNodeFiveWins(c), { name: "SafetyViolation", message: new RegExp(`Leader Completeness: leader 5 has term \\d+ at committed index ${x}`) });
  });
});

describe("stale leader", () => {
  test("a leader cut off in a minority cannot commit, and its entries are replaced after healing", () => {
    const c = cluster({ voters: 5 });
    elect(c, 1);
    c.partition([1, 2], [3, 4, 5]);
    c.propose(1);
    c.stabilize();
    const staleIndex = status(c, 1).lastIndex;
    assert.ok(status(c, 1).hardState.commit < staleIndex, "two of five cannot commit");

    c.runUntil(() => [3, 4, 5].some((id) => status(c, id).role === Role.Leader), 2000, "majority elects a leader");
    const newLeader = c.leader()!;
    assert.notEqual(newLeader, 1);
    c.propose(newLeader);
    c.heal();
    c.runUntil(() => status(c, 1).role === Role.Follower && status(c, 1).lead === newLeader, 2000, "old leader follows");
    c.runUntil(() => status(c, 1).hardState.commit >= staleIndex, 2000, "old leader catches up");
    assert.equal(c.node(1).entryTerm(staleIndex), c.node(newLeader).entryTerm(staleIndex));
  });
});

describe("pre-vote", () => {
  test("a partitioned node rejoins without disrupting the leader", () => {
    const c = cluster({ voters: 3 });
    elect(c, 1);
    const term = status(c, 1).hardState.term;
    c.isolate(3);
    c.runUntil(() => c.step > 600, 1000, "many election timeouts");
    assert.equal(status(c, 3).hardState.term, term, "pre-votes fail, so the term never grows");
    c.heal();
    c.runUntil(() => status(c, 3).lead === 1, 500, "3 follows 1 again");
    assert.equal(status(c, 1).role, Role.Leader);
    assert.equal(status(c, 1).hardState.term, term, "the leader was never deposed");
  });
});

describe("campaigning when a peer comes back", () => {
  test("a member left without a leader or a quorum campaigns within a few ticks of a peer coming back, not a whole timeout", () => {
    const c = cluster({ voters: 3, electionTicks: 40 });
    elect(c, 1);
    c.crash(2);
    c.crash(3, { peersNotice: false });
    c.runUntil(() => status(c, 1).role !== Role.Leader, 500, "1 steps down by check-quorum");
    c.start(3);
    // A fresh follower waits at least a whole election timeout; the member that
    // waited for a quorum campaigns within a quarter of one.
    c.node(1).peerReconnected();
    for (let tick = 0; tick < 10 && status(c, 1).role === Role.Follower; tick++) c.tickNode(1);
    assert.notEqual(status(c, 1).role, Role.Follower, "1 started an election");
    c.stabilize();
    assert.equal(status(c, 1).role, Role.Leader);
  });

  test("a follower of a leader ignores it", () => {
    const c = cluster({ voters: 3, electionTicks: 40 });
    elect(c, 1);
    c.node(2).peerReconnected();
    for (let tick = 0; tick < 30; tick++) c.tickNode(2);
    assert.equal(status(c, 2).role, Role.Follower);
  });
});

describe("check-quorum", () => {
  test("an isolated leader steps down within an election timeout", () => {
    const c = cluster({ voters: 3, electionTicks: 10 });
    elect(c, 1);
    c.isolate(1);
    for (let tick = 0; tick < 20 && status(c, 1).role === Role.Leader; tick++) c.tickNode(1);
    assert.equal(status(c, 1).role, Role.Follower, "it noticed it lost its quorum");
  });

  test("followers that heard from a leader ignore a disruptive candidate", () => {
    const c = cluster({ voters: 3, preVote: false });
    elect(c, 1);
    const term = status(c, 1).hardState.term;
    c.partition([3], [1, 2]);
    c.campaign(3);
    c.heal();
    c.stabilize();
    assert.equal(status(c, 2).hardState.term, term, "2 is within its leader lease and ignores 3's vote request");
  });
});

describe("membership", () => {
  test("a change survives the leader failing before it commits", () => {
    const c = cluster({ voters: 3, spares: 1 });
    elect(c, 1);
    c.start(4);
    assert.ok(c.addLearner(1, 4));
    // The change reaches only node 2 before the leader dies.
    c.partition([1, 2], [3, 4]);
    c.stabilize();
    c.crash(1);
    c.heal();
    c.runUntil(() => c.leader() !== undefined, 2000, "a new leader");
    const leader = c.leader()!;
    c.runUntil(() => c.members(leader).includes(4), 2000, "the change is applied");
    c.runUntil(() => c.sim(4).machine.applied >= status(c, leader).hardState.commit, 2000, "the learner catches up");
    c.start(1);
    c.runUntil(() => c.ids.every((id) => c.members(id).join() === c.members(leader).join()), 2000, "all agree");
  });

  test("a learner receives the log but neither votes nor counts for the quorum", () => {
    const c = cluster({ voters: 3, spares: 1 });
    elect(c, 1);
    c.start(4);
    assert.ok(c.addLearner(1, 4));
    c.stabilize();
    assert.deepEqual(c.node(1).confState().learners, [4]);
    // With two voters down, the learner cannot complete a quorum.
    c.crash(2);
    c.crash(3);
    c.propose(1);
    c.stabilize();
    assert.equal(c.node(4).entryTerm(status(c, 1).lastIndex), status(c, 1).hardState.term, "the learner has the entry");
    assert.ok(status(c, 1).hardState.commit < status(c, 1).lastIndex, "but it does not count for the quorum");
    // A learner never campaigns.
    c.isolate(4);
    for (let i = 0; i < 100; i++) c.tickNode(4);
    assert.equal(status(c, 4).role, Role.Follower);
  });

  test("a leader that removes itself hands over to a caught-up voter", () => {
    const c = cluster({ voters: 3 });
    elect(c, 1);
    assert.ok(c.proposeConfChange(1, { type: ConfChangeType.RemoveNode, nodeId: 1 }));
    c.runUntil(() => [2, 3].some((id) => status(c, id).role === Role.Leader), 500, "a remaining voter leads");
    const leader = c.leader()!;
    assert.deepEqual(c.node(leader).confState().voters, [2, 3]);
    c.propose(leader);
    c.runUntil(() => [2, 3].every((id) => status(c, id).hardState.commit === status(c, leader).lastIndex), 500, "commits without 1");
    assert.notEqual(status(c, 1).role, Role.Leader);
  });

  test("only one change at a time, and only after the leader commits in its term", () => {
    const c = cluster({ voters: 3, spares: 2 });
    elect(c, 1);
    assert.ok(c.addLearner(1, 4));
    assert.equal(c.addLearner(1, 5), false, "the first change is still pending");
    c.stabilize();
    assert.ok(c.addLearner(1, 5), "applied: the next may go");
    assert.equal(c.proposeConfChange(1, { type: ConfChangeType.PromoteLearner, nodeId: 2 }), false, "2 is no learner");
  });
});

describe("snapshots", () => {
  test("a follower far behind is sent a snapshot and catches up", () => {
    const c = cluster({ voters: 3, snapshotEvery: 10, snapshotTail: 2 });
    elect(c, 1);
    c.crash(3);
    for (let i = 0; i < 40; i++) c.propose(1);
    c.stabilize();
    assert.ok(c.sim(1).disk.firstIndex() > c.sim(3).disk.lastIndex() + 1, "the leader compacted what 3 lacks");
    const installedBefore = c.checker.snapshotsInstalled;
    c.start(3);
    c.runUntil(() => c.sim(3).machine.applied === c.sim(1).machine.applied, 2000, "3 catches up");
    assert.equal(c.checker.snapshotsInstalled, installedBefore + 1, "through exactly one snapshot");
    assert.equal(c.sim(3).machine.hash, c.sim(1).machine.hash);
  });
});

describe("leadership transfer", () => {
  test("the target is caught up, then told to campaign at once", () => {
    const c = cluster({ voters: 3 });
    elect(c, 1);
    c.partition([3], [1, 2]);
    c.propose(1);
    c.stabilize();
    c.heal();
    c.node(1).transferLeadership(3);
    assert.throws(() => c.node(1).propose(new Uint8Array([1])), /transferred/);
    c.runUntil(() => status(c, 3).role === Role.Leader, 100, "3 takes over within one election timeout");
    c.runUntil(() => status(c, 1).lead === 3, 100, "1 follows 3");
  });
});

describe("ReadIndex", () => {
  test("one heartbeat round confirms a batch of reads", () => {
    const c = cluster({ voters: 3 });
    elect(c, 1);
    for (let i = 0; i < 5; i++) c.readIndex(1);
    const heartbeats = c.inFlightMessages().filter((m) => m.type === MessageType.Heartbeat).length;
    c.runLoopHalf(1);
    const sent = c.inFlightMessages().filter((m) => m.type === MessageType.Heartbeat && m.context).length;
    assert.equal(sent - heartbeats, 2, "one round: a heartbeat to each follower");
    c.stabilize();
    assert.equal(c.sim(1).servedReads.length, 5);
  });

  test("a follower gets a read index from the leader", () => {
    const c = cluster({ voters: 3 });
    elect(c, 1);
    c.propose(1);
    c.stabilize();
    c.readIndex(2);
    c.stabilize();
    assert.deepEqual(c.sim(2).servedReads.map((r) => r.index), [status(c, 1).hardState.commit]);
  });

  test("a new leader answers reads only after committing an entry of its term", () => {
    const c = cluster({ voters: 3, checkQuorum: false });
    elect(c, 1);
    c.crash(1, { peersNotice: false });
    c.campaign(2);
    stabilizeLosing(c, (m) => m.type === MessageType.App);
    assert.equal(status(c, 2).role, Role.Leader);
    c.readIndex(2);
    stabilizeLosing(c, (m) => m.type === MessageType.App);
    assert.equal(c.sim(2).servedReads.length, 0, "its no-op is not committed yet");
    c.runUntil(() => c.sim(2).servedReads.length === 1, 500, "the read is served once the no-op commits");
  });
});

describe("durability by construction", () => {
  test("an append acknowledgement leaves only after the entries are persisted", () => {
    const c = cluster({ voters: 3 });
    elect(c, 1);
    c.propose(1);
    c.runLoopHalf(1);
    c.deliverAll((m) => m.to === 2 && m.type === MessageType.App);
    const beforePersist = c.node(2).ready();
    assert.ok(beforePersist.entries.length > 0);
    assert.equal(beforePersist.messages.filter((m) => m.type === MessageType.AppResp).length, 0);
    // The simulator persists exactly what this Ready asked for, then advances.
    c.sim(2).disk.append(beforePersist.entries);
    if (beforePersist.hardState) c.sim(2).disk.setHardState(beforePersist.hardState);
    c.node(2).advance();
    const afterPersist = c.node(2).ready();
    assert.equal(afterPersist.messages.filter((m) => m.type === MessageType.AppResp).length, 1);
    c.node(2).advance();
  });

  test("a vote is granted only once it is durable", () => {
    const c = cluster({ voters: 3, preVote: false });
    c.campaign(1);
    // Persist the candidate's own vote; only then do its requests leave.
    c.runLoopHalf(1);
    c.runLoopHalf(1);
    c.runLoopHalf(1);
    c.deliverAll((m) => m.to === 2 && m.type === MessageType.Vote);
    const ready = c.node(2).ready();
    assert.equal(ready.hardState?.vote, 1);
    assert.equal(ready.messages.filter((m) => m.type === MessageType.VoteResp).length, 0);
  });
});

describe("log replication", () => {
  test("a rejected append skips a whole conflicting term at once", () => {
    const c = cluster({ voters: 5 });
    elect(c, 1);
    // The old leader gives node 3 twenty entries that will never commit.
    c.partition([1, 3], [2, 4, 5]);
    for (let i = 0; i < 20; i++) c.propose(1);
    c.stabilize();
    c.runUntil(() => status(c, 2).role === Role.Leader || c.leader() !== 1, 3000, "the majority elects a leader");
    const leader = c.leader()!;
    for (let i = 0; i < 5; i++) c.propose(leader);
    c.stabilize();

    let rejectionsFrom3 = 0;
    c.heal();
    c.runUntil(
      () => {
        rejectionsFrom3 += c.inFlightMessages().filter((m) => m.from === 3 && m.reject).length;
        return c.sim(3).machine.applied === c.sim(leader).machine.applied;
      },
      2000,
      "3 converges on the new leader's log",
    );
    assert.ok(rejectionsFrom3 <= 2, `one hint should skip the whole stale term (saw ${rejectionsFrom3} rejections)`);
  });
});

describe("append coalescing", () => {
  /** Each append the leader has sent and not yet delivered, as [to, entries, commit]. */
  const appendsInFlight = (c: Cluster) =>
    c
      .inFlightMessages()
      .filter((m) => m.type === MessageType.App && m.from === 1)
      .map((m) => [m.to, m.entries.length, m.commit])
      .sort();

  test("what a leader takes in between two Readies reaches each follower as one append", () => {
    const c = cluster({ voters: 3 });
    elect(c, 1);
    for (let i = 0; i < 2; i++) c.propose(1);
    c.runLoopHalf(1);
    const committedBefore = c.node(1).commitIndex;
    assert.deepEqual(appendsInFlight(c), [[2, 2, committedBefore], [3, 2, committedBefore]]);
    c.runLoopHalf(1);
    c.deliverAll();
    for (const id of [2, 3]) {
      c.runLoopHalf(id);
      c.runLoopHalf(id);
    }
    // Both acknowledgements (which commit the two entries) and three more proposals, then one Ready.
    c.deliverAll((m) => m.to === 1);
    for (let i = 0; i < 3; i++) c.propose(1);
    c.runLoopHalf(1);
    const committed = c.node(1).commitIndex;
    assert.ok(committed > committedBefore);
    assert.deepEqual(appendsInFlight(c), [[2, 3, committed], [3, 3, committed]]);
  });
});

describe("persisted before applied", () => {
  test("acknowledgements leave once the write is durable, before the Ready is applied", () => {
    const c = cluster({ voters: 3 });
    elect(c, 1);
    c.propose(1);
    c.runLoopHalf(1);
    c.deliverAll((m) => m.to === 2 && m.type === MessageType.App);
    const ready = c.node(2).ready();
    c.sim(2).disk.append(ready.entries);
    if (ready.hardState) c.sim(2).disk.setHardState(ready.hardState);
    const early = c.node(2).persisted();
    assert.equal(early.filter((m) => m.type === MessageType.AppResp).length, 1, "the acknowledgement is released by persisted()");
    assert.throws(() => c.node(2).persisted(), /persisted\(\) without/);
    c.node(2).advance();
    assert.equal(c.node(2).hasReady(), false, "nothing is left over for the next Ready");
  });
});
