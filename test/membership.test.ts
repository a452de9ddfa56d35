/**
 * Membership changes on a real cluster under continuous writes: grow 3 to 5
 * (each new member added as a learner, caught up, promoted), then shrink back
 * to 3 by removing two of the founders, the leader among them. No
 * acknowledged write may be lost; the longest write gap is reported.
 */
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { memberId, onLeader } from "./support/cluster-ops.js";
import { ProcessCluster, waitFor } from "./support/process-cluster.js";
import { Writer } from "./support/writer.js";

/** The longest stretch without an acknowledged write, and when it began. */
function longestGap(times: readonly number[]): { ms: number; from: number } {
  let longest = { ms: 0, from: times[0] ?? 0 };
  for (let i = 1; i < times.length; i++) {
    const ms = times[i]! - times[i - 1]!;
    if (ms > longest.ms) longest = { ms, from: times[i - 1]! };
  }
  return longest;
}

/** The last step that had begun when `time` came, to say what a gap overlapped. */
function stepAt(steps: readonly { step: string; at: number }[], time: number): string {
  return steps.filter((step) => step.at <= time).pop()?.step ?? "start";
}

test("grow 3 to 5 and shrink 5 to 3 under writes, losing nothing", async () => {
  const cluster = await ProcessCluster.start({ size: 3 });
  after(async () => cluster.stop());
  const writer = new Writer(cluster, "churn");
  writer.start(2);
  await waitFor("writes flowing", async () => writer.acknowledged.length >= 20);
  const steps: { step: string; at: number }[] = [];
  const mark = (step: string) => steps.push({ step, at: Date.now() });

  for (const name of ["n4", "n5"]) {
    const joining = await cluster.join(name);
    mark(`add ${name}`);
    await onLeader(cluster, "/v3/cluster/member/add", { peerURLs: [joining.peerUrl], isLearner: true });
    cluster.startJoined(joining);
    const id = await memberId(cluster, joining);
    mark(`promote ${name}`);
    await waitFor(
      `${name} promoted once caught up`,
      async () => {
        try {
          await onLeader(cluster, "/v3/cluster/member/promote", { ID: id });
          return true;
        } catch {
          return false;
        }
      },
      30_000,
    );
  }
  const five = (await onLeader(cluster, "/v3/cluster/member/list", {})).members as { isLearner?: boolean }[];
  assert.equal(five.length, 5);
  assert.ok(
    five.every((member) => !member.isLearner),
    "all five are voters",
  );

  const leader = await cluster.waitForLeader();
  const removals = [leader, cluster.members.find((member) => member !== leader && ["n1", "n2", "n3"].includes(member.name))!];
  for (const member of removals) {
    const id = await memberId(cluster, member);
    mark(`remove ${member.name}${member === leader ? " (the leader)" : ""}`);
    await onLeader(cluster, "/v3/cluster/member/remove", { ID: id });
    await cluster.kill(member.name, "SIGTERM");
    cluster.forget(member.name);
  }
  await waitFor("more writes after shrinking", async () => writer.since(Date.now() - 500).length > 0, 20_000);
  await writer.stop();

  const three = (await onLeader(cluster, "/v3/cluster/member/list", {})).members as unknown[];
  assert.equal(three.length, 3);
  const survivor = cluster.running()[0]!;
  for (const write of writer.acknowledged) {
    const response = await fetch(`${survivor.clientUrl}/v1/kv/${write.key}`);
    assert.equal(await response.text(), write.value, `acknowledged ${write.key} survives`);
  }
  const gap = longestGap(writer.acknowledged.map((write) => write.at));
  console.log(`membership churn: ${writer.acknowledged.length} acknowledged writes, longest write gap ${gap.ms} ms, during "${stepAt(steps, gap.from)}"`);

  // Every member restarts from its own disk and comes back with the new membership.
  const names = cluster.running().map((member) => member.name);
  for (const name of names) await cluster.kill(name);
  for (const name of names) cluster.restart(name);
  await cluster.waitForLeader();
  const afterRestart = (await onLeader(cluster, "/v3/cluster/member/list", {})).members as { name: string }[];
  assert.deepEqual(afterRestart.map((member) => member.name).sort(), names.sort());
  const write = await fetch(`${cluster.running()[0]!.clientUrl}/v1/kv/after-restart`, { method: "PUT", body: "ok" });
  assert.equal(write.status, 200);
});
