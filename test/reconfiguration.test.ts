/**
 * Reconfiguration safety on real clusters: the strict check refuses changes
 * that would leave fewer started voters than a quorum, a lagging learner is
 * not promoted, a learner neither votes nor counts for quorum, and a removed
 * member (the leader among them) stops taking part and says so. Requests
 * go to followers where they can: the leader decides, so they are forwarded.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { assertRefused, health, memberId, metric } from "./support/cluster-ops.js";
import { HttpError, ProcessCluster, b64, freePort, postJson, unb64, waitFor, type ClusterMember } from "./support/process-cluster.js";
import { Writer } from "./support/writer.js";

const NOT_ENOUGH_STARTED = "etcdserver: re-configuration failed due to not enough started members";
const LEARNER_NOT_READY = "etcdserver: can only promote a learner member which is in sync with leader";

async function statusOf(member: ClusterMember): Promise<Record<string, unknown>> {
  return postJson(member.clientUrl, "/v3/maintenance/status", {});
}

async function put(member: ClusterMember, key: string, value: string): Promise<Record<string, unknown>> {
  return postJson(member.clientUrl, "/v3/kv/put", { key: b64(key), value: b64(value) });
}

/** The value a member holds for `key`, read locally (serializable). */
async function localValue(member: ClusterMember, key: string): Promise<string | undefined> {
  const range = await postJson(member.clientUrl, "/v3/kv/range", { key: b64(key), serializable: true });
  const kv = (range.kvs as { value?: string }[] | undefined)?.[0];
  return kv && unb64(kv.value ?? "");
}

function followersOf(cluster: ProcessCluster, leader: ClusterMember): ClusterMember[] {
  return cluster.running().filter((member) => member !== leader);
}

test("the strict check refuses changes that would leave too few started voters; a lagging learner is not promoted", async (t) => {
  const cluster = await ProcessCluster.start({ size: 3 });
  t.after(() => cluster.stop());
  const leader = await cluster.waitForLeader();
  const [follower, doomed] = followersOf(cluster, leader) as [ClusterMember, ClusterMember];

  // Adding a learner never changes the quorum. One that has not started holds nothing yet.
  const added = await postJson(follower.clientUrl, "/v3/cluster/member/add", { peerURLs: [`http://127.0.0.1:${await freePort()}`], isLearner: true });
  const learnerId = (added.member as { ID: string }).ID;
  await assertRefused(postJson(follower.clientUrl, "/v3/cluster/member/promote", { ID: learnerId }), LEARNER_NOT_READY);

  await cluster.kill(doomed.name);
  await waitFor("the leader to count only one peer as started", async () => (await metric(leader, "raftkv_active_peers")) === 1);
  const followerId = await memberId(cluster, follower);
  // Without the follower, the two voters left would be the leader and a stopped member.
  await assertRefused(postJson(follower.clientUrl, "/v3/cluster/member/remove", { ID: followerId }), NOT_ENOUGH_STARTED);
  // A fourth voter would need three started voters of four; it has not started, and one founder is down.
  const newVoter = { peerURLs: [`http://127.0.0.1:${await freePort()}`], isLearner: false };
  await assertRefused(postJson(follower.clientUrl, "/v3/cluster/member/add", newVoter), NOT_ENOUGH_STARTED);
  await assertRefused(postJson(follower.clientUrl, "/v3/cluster/member/promote", { ID: learnerId }), LEARNER_NOT_READY);

  // Removing the learner, or the stopped voter, leaves both started voters a quorum.
  await postJson(follower.clientUrl, "/v3/cluster/member/remove", { ID: learnerId });
  await postJson(follower.clientUrl, "/v3/cluster/member/remove", { ID: await memberId(cluster, doomed) });
  cluster.forget(doomed.name);
  const members = (await postJson(leader.clientUrl, "/v3/cluster/member/list", {})).members as { name: string }[];
  assert.deepEqual(members.map((member) => member.name).sort(), [leader.name, follower.name].sort());
  await put(follower, "after-strict-check", "ok");
});

test("a membership change sent the moment the previous one is answered is accepted", async (t) => {
  const cluster = await ProcessCluster.start({ size: 3 });
  t.after(() => cluster.stop());
  const leader = await cluster.waitForLeader();
  // The reply comes once the change is applied; Raft must have taken it in by then, or it refuses the next one.
  for (let round = 0; round < 15; round++) {
    const added = await postJson(leader.clientUrl, "/v3/cluster/member/add", { peerURLs: [`http://127.0.0.1:${await freePort()}`], isLearner: true });
    await postJson(leader.clientUrl, "/v3/cluster/member/remove", { ID: (added.member as { ID: string }).ID });
  }
  const members = (await postJson(leader.clientUrl, "/v3/cluster/member/list", {})).members as unknown[];
  assert.equal(members.length, 3);
});

test("a learner neither votes nor counts for quorum", async (t) => {
  const cluster = await ProcessCluster.start({ size: 2 });
  t.after(() => cluster.stop());
  const learner = await cluster.join("learner");
  // Two members lose their leader at the slightest stall of a loaded machine; "no leader" is answered before anything is proposed.
  await waitFor("the learner's addition", () =>
    postJson(cluster.members[0]!.clientUrl, "/v3/cluster/member/add", { peerURLs: [learner.peerUrl], isLearner: true }).then(
      () => true,
      (error: unknown) => {
        if (error instanceof HttpError && error.status === 503) return false;
        throw error;
      },
    ),
  );
  cluster.startJoined(learner);
  await put(cluster.members[0]!, "before", "replicated");
  await waitFor("the learner to catch up", async () => (await localValue(learner, "before")) === "replicated");
  await waitFor("the learner to report itself one", async () => (await statusOf(learner)).isLearner === true);

  const leader = await cluster.waitForLeader();
  assert.notEqual(leader, learner, "a learner never leads");
  const [voter] = cluster.members.filter((member) => member !== leader && member !== learner) as [ClusterMember];
  const termBefore = (await statusOf(learner)).raftTerm;
  await cluster.kill(voter.name);
  // Two of the three processes still run, but only one of the two voters: the
  // learner's answers do not keep the leader in office (check-quorum counts voters) ...
  await waitFor("the leader to step down", async () => (await statusOf(leader)).leader === undefined, 5_000);
  // ... and nobody is elected: the learner neither campaigns nor casts a vote that counts.
  const refused = await fetch(`${leader.clientUrl}/v3/kv/put`, {
    method: "POST",
    body: JSON.stringify({ key: b64("without-quorum"), value: b64("x") }),
    // The member waits a while for an election to end before it answers.
    signal: AbortSignal.timeout(15_000),
  });
  assert.equal(((await refused.json()) as { error: string }).error, "etcdserver: no leader");
  assert.equal((await statusOf(leader)).leader, undefined, "still no leader");
  assert.equal((await statusOf(learner)).raftTerm, termBefore, "the learner never campaigned");

  cluster.restart(voter.name);
  const elected = await cluster.waitForLeader();
  assert.notEqual(elected, learner);
  await put(leader, "with-quorum", "back");
  await waitFor("the learner to follow again", async () => (await localValue(learner, "with-quorum")) === "back");
});

test("a member removed while down learns it from its peers; a removed leader hands over; both stop taking part", async (t) => {
  const cluster = await ProcessCluster.start({ size: 3 });
  t.after(() => cluster.stop());
  const writer = new Writer(cluster, "removal");
  writer.start(2);
  await waitFor("writes flowing", async () => writer.acknowledged.length >= 20);
  const leader = await cluster.waitForLeader();
  const [absent, survivor] = followersOf(cluster, leader) as [ClusterMember, ClusterMember];

  // Removed while stopped, a member cannot apply its own removal: its peers tell it when it comes back.
  await cluster.kill(absent.name);
  await waitFor("the leader to count one peer as started", async () => (await metric(leader, "raftkv_active_peers")) === 1);
  await postJson(survivor.clientUrl, "/v3/cluster/member/remove", { ID: await memberId(cluster, absent) });
  cluster.restart(absent.name);
  await waitFor("the restarted member to learn of its removal", async () => (await health(absent)).reason === "REMOVED FROM CLUSTER", 10_000);
  await waitFor("the restarted member to log why", async () => /a peer says this member was removed from the cluster/.test(absent.output.join("")));
  await assertStoppedTakingPart(absent);
  await cluster.kill(absent.name);
  cluster.forget(absent.name);

  // The leader applies its own removal, hands over, then stops taking part.
  await postJson(survivor.clientUrl, "/v3/cluster/member/remove", { ID: await memberId(cluster, leader) });
  await waitFor("the removed leader to stop taking part", async () => leader.output.join("").includes("this member was removed from the cluster"));
  const removedAt = Date.now();
  await waitFor("writes to continue without it", async () => writer.since(removedAt).some((write) => write.at > removedAt), 20_000);
  await writer.stop();
  await assertStoppedTakingPart(leader);
  await cluster.kill(leader.name);
  cluster.forget(leader.name);
  assert.equal(await cluster.waitForLeader(), survivor);
  const members = (await postJson(survivor.clientUrl, "/v3/cluster/member/list", {})).members as { name: string }[];
  assert.deepEqual(
    members.map((member) => member.name),
    [survivor.name],
  );
});

/** A removed member keeps its process, and says why it serves nothing. */
async function assertStoppedTakingPart(member: ClusterMember): Promise<void> {
  assert.ok(member.process, `${member.name} keeps running`);
  assert.deepEqual(await health(member), { status: 503, health: "false", reason: "REMOVED FROM CLUSTER" });
  assert.deepEqual((await statusOf(member)).errors, ["the member has been permanently removed from the cluster"]);
  assert.equal(await metric(member, "raftkv_member_removed"), 1);
  await assertRefused(put(member, "to-a-removed-member", "x"), "etcdserver: server stopped");
}
