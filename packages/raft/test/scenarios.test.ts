/**
 * Stories that need more than a transcript can say: conditions waited for
 * over many steps, Ready-level checks of the durability rule, counts of
 * messages. The classic scenarios (Figure 8, pre-vote, check-quorum,
 * leadership transfer, learners, one membership change at a time, a leader
 * removing itself, snapshot catch-up) are transcripts in test/transcripts/.
 * Every step of every story is also checked by the simulator's safety
 * invariants.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { MessageType, Role, type Message, type NodeId } from "../src/index.js";
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
    c.node(1).peerReconnected(3);
    for (let tick = 0; tick < 10 && status(c, 1).role === Role.Follower; tick++) c.tickNode(1);
    assert.notEqual(status(c, 1).role, Role.Follower, "1 started an election");
    c.stabilize();
    assert.equal(status(c, 1).role, Role.Leader);
  });

  test("a follower of a leader ignores it", () => {
    const c = cluster({ voters: 3, electionTicks: 40 });
    elect(c, 1);
    c.node(2).peerReconnected(3);
    for (let tick = 0; tick < 30; tick++) c.tickNode(2);
    assert.equal(status(c, 2).role, Role.Follower);
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
    assert.deepEqual(
      c.sim(2).servedReads.map((r) => r.index),
      [status(c, 1).hardState.commit],
    );
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
    const first = c.leader()!;
    for (let i = 0; i < 5; i++) c.propose(first);
    c.stabilize();
    // A leader elected now probes 3 from the end of a log longer than the matching prefix,
    // so 3 must reject before the logs meet.
    const leader = [2, 4, 5].find((id) => id !== first)!;
    c.node(first).transferLeadership(leader);
    c.runUntil(() => status(c, leader).role === Role.Leader, 500, "the transfer within the majority");
    assert.ok(status(c, leader).lastIndex > 7, "the new leader's log reaches past the point where 3's diverges");

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
    assert.ok(rejectionsFrom3 >= 1, "3's stale entries must have been rejected");
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
    assert.deepEqual(appendsInFlight(c), [
      [2, 2, committedBefore],
      [3, 2, committedBefore],
    ]);
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
    assert.deepEqual(appendsInFlight(c), [
      [2, 3, committed],
      [3, 3, committed],
    ]);
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
