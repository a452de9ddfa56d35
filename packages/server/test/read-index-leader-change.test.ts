/**
 * Linearizable reads out when their leader stops answering (a SIGSTOPped
 * process, or one cut off): three whole simulated members on one simulated
 * clock. A follower's ReadIndex request to the old leader is never
 * answered; once a new leader is elected, the reads are served by it
 * promptly, not at the request's next retry an election timeout after it
 * was sent.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { SeededRng, type NodeId } from "@raftkv/raft";
import { SimDisk } from "@raftkv/wal";
import { SimMember, newStore, type MemberTiming } from "./sim/support/member.js";
import { SimNetwork } from "./sim/support/network.js";
import { Scheduler } from "./sim/support/scheduler.js";

const TIMING: MemberTiming = { tickMs: 100, heartbeatTicks: 1, electionTicks: 10, requestTimeoutMs: 5_000 };
const ELECTION_TIMEOUT_MS = TIMING.tickMs * TIMING.electionTicks;
const FOUNDERS: readonly NodeId[] = [1, 2, 3];
/** Asking the new leader takes a few message delays and its first commit: well under a heartbeat. */
const PROMPTLY_MS = TIMING.tickMs;

interface Cluster {
  readonly scheduler: Scheduler;
  readonly network: SimNetwork;
  readonly members: Map<NodeId, SimMember>;
  /** When each member last learned of a leader other than none (simulated ms). */
  readonly learnedLeaderAt: Map<NodeId, number>;
}

async function startCluster(dir: string, seed: number): Promise<Cluster> {
  const scheduler = new Scheduler();
  const network = new SimNetwork(scheduler, new SeededRng(seed), { dropRate: 0, minDelayMs: 1, maxDelayMs: 3 });
  const members = new Map<NodeId, SimMember>();
  const learnedLeaderAt = new Map<NodeId, number>();
  for (const id of FOUNDERS) {
    const memberDir = join(dir, `m${id}`);
    await mkdir(memberDir);
    const disks = { wal: new SimDisk({ seed: seed + id }), store: newStore(), dir: memberDir };
    const member = await SimMember.start(id, seed, disks, {
      scheduler,
      network,
      timing: TIMING,
      founders: FOUNDERS,
      onApply: () => undefined,
      onApplied: () => undefined,
      onLeader: (member, leader) => {
        if (leader !== 0) learnedLeaderAt.set(member, scheduler.now);
      },
      onStorageFailure: (member, failure) => assert.fail(`member ${member}'s storage failed: ${failure.where}`),
    });
    members.set(id, member);
  }
  return { scheduler, network, members, learnedLeaderAt };
}

/** Runs simulated time in steps until `done` holds, failing after `withinMs`. */
async function runUntil(cluster: Cluster, done: () => boolean, withinMs: number, what: string): Promise<void> {
  const deadline = cluster.scheduler.now + withinMs;
  while (!done()) {
    assert.ok(cluster.scheduler.now < deadline, `${what} within ${withinMs} ms`);
    await cluster.scheduler.runUntil(cluster.scheduler.now + 10);
  }
}

function leaderAmong(cluster: Cluster, ids: readonly NodeId[]): NodeId | undefined {
  return ids.find((id) => cluster.members.get(id)?.host.isLeader);
}

for (const seed of [1, 2, 3]) {
  test(`reads asked of a leader that stopped answering are served by the next one as soon as it is elected (seed ${seed})`, async (t) => {
    const dir = await mkdtemp(join(existsSync("/dev/shm") ? "/dev/shm" : tmpdir(), "raftkv-read-index-"));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const cluster = await startCluster(dir, seed);
    await runUntil(cluster, () => leaderAmong(cluster, FOUNDERS) !== undefined, 10 * ELECTION_TIMEOUT_MS, "a first leader");
    const oldLeader = leaderAmong(cluster, FOUNDERS) as NodeId;
    const followers = FOUNDERS.filter((id) => id !== oldLeader);
    // Let the followers hear of the first leader's first commit, so that nothing but the stop holds their reads.
    await cluster.scheduler.runUntil(cluster.scheduler.now + ELECTION_TIMEOUT_MS);

    cluster.network.partition([[oldLeader], followers]);
    // Before any follower's election timeout can pass (its last heartbeat came at most a tick before
    // the cut, and a timeout is at least an election timeout less a tick): they ask the old leader, which never answers.
    await cluster.scheduler.runUntil(cluster.scheduler.now + ELECTION_TIMEOUT_MS - 2.5 * TIMING.tickMs);
    const askedAt = cluster.scheduler.now;
    const servedAt = new Map<NodeId, number>();
    const reads = followers.map((id) => {
      const member = cluster.members.get(id) as SimMember;
      assert.equal(member.host.leader, oldLeader, `member ${id} still follows the old leader when it reads`);
      return member.host.readBarrier().then(() => servedAt.set(id, cluster.scheduler.now));
    });

    await runUntil(cluster, () => servedAt.size === followers.length, 5 * ELECTION_TIMEOUT_MS, "both reads served");
    await Promise.all(reads);
    assert.ok(leaderAmong(cluster, followers) !== undefined, "a follower took over");
    for (const id of followers) {
      const learned = cluster.learnedLeaderAt.get(id) as number;
      // The election must come before the retry would have, or the test shows nothing.
      assert.ok(
        learned > askedAt && learned + PROMPTLY_MS < askedAt + ELECTION_TIMEOUT_MS,
        `member ${id} learned the new leader at ${learned}, asked at ${askedAt}`,
      );
      const wait = (servedAt.get(id) as number) - learned;
      assert.ok(wait <= PROMPTLY_MS, `member ${id}'s read was served ${wait} ms after it learned the new leader (asked at ${askedAt}, learned at ${learned})`);
    }
    for (const member of cluster.members.values()) await member.host.stop();
  });
}
