/**
 * Real clusters of `raftkv serve` processes: failover after SIGKILL of the
 * leader under write load, catch-up after restart, and a minority that must
 * refuse writes and linearizable reads.
 */
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { ProcessCluster, waitFor } from "./support/process-cluster.js";
import { Writer } from "./support/writer.js";

async function readValue(clientUrl: string, key: string, consistency = "linearizable"): Promise<string | undefined> {
  const response = await fetch(`${clientUrl}/v1/kv/${key}?consistency=${consistency}`, { signal: AbortSignal.timeout(5_000) });
  if (response.status === 404) return undefined;
  if (!response.ok) throw new Error(`GET ${key}: HTTP ${response.status} ${await response.text()}`);
  return response.text();
}

async function prefixCount(clientUrl: string, prefix: string): Promise<number> {
  const response = await fetch(`${clientUrl}/v1/kv/${prefix}/?prefix&keys_only`, { signal: AbortSignal.timeout(5_000) });
  const body = (await response.json()) as { count: number | string };
  return Number(body.count);
}

for (const size of [3, 5]) {
  describe(`${size}-node cluster`, () => {
    let cluster: ProcessCluster;
    after(async () => cluster?.stop());

    test("writes resume after SIGKILL of the leader and no acknowledged write is lost", async () => {
      cluster = await ProcessCluster.start({ size });
      const writer = new Writer(cluster, `kill-${size}`);
      writer.start();
      await waitFor("writes flowing", async () => writer.acknowledged.length >= 50);
      const leader = await cluster.waitForLeader();
      const killedAt = Date.now();
      await cluster.kill(leader.name);
      await waitFor("a write acknowledged after the kill", async () => writer.since(killedAt).length > 0, 10_000);
      const resumedAfterMs = writer.since(killedAt)[0]!.at - killedAt;
      await waitFor("more writes", async () => writer.since(killedAt).length >= 50);
      await writer.stop();

      const survivor = cluster.running()[0]!;
      for (const write of writer.acknowledged) {
        assert.equal(await readValue(survivor.clientUrl, write.key), write.value, `acknowledged ${write.key} must be readable`);
      }
      // Writes in flight at the kill may or may not have applied; acknowledged ones must have.
      assert.ok((await prefixCount(survivor.clientUrl, `kill-${size}`)) >= writer.acknowledged.length);
      console.log(
        `${size} nodes: writes resumed ${resumedAfterMs} ms after SIGKILL of the leader; ${writer.acknowledged.length} acknowledged writes all present`,
      );

      cluster.restart(leader.name);
      const restarted = cluster.member(leader.name);
      const last = writer.acknowledged[writer.acknowledged.length - 1]!;
      await waitFor("the restarted member catches up", async () => (await readValue(restarted.clientUrl, last.key, "serializable")) === last.value).catch(
        (error: Error) => {
          throw new Error(`${error.message}\n${cluster.logs()}`);
        },
      );
    });
  });
}

describe("a paused leader (no connection reset)", () => {
  let cluster: ProcessCluster;
  after(async () => cluster?.stop());

  test("fails over within the election timeout window and rejoins as a follower", async () => {
    const electionMs = 500;
    cluster = await ProcessCluster.start({ size: 3, electionMs });
    const leader = await cluster.waitForLeader();
    const writer = new Writer(cluster, "pause");
    leader.process!.kill("SIGSTOP");
    const pausedAt = Date.now();
    try {
      const others = cluster.running().filter((member) => member !== leader);
      await waitFor("another member to lead", async () => {
        for (const member of others) {
          const status = (await (await fetch(`${member.clientUrl}/v3/maintenance/status`, { method: "POST", body: "{}" })).json()) as {
            leader: string;
            header: { member_id: string };
          };
          if (status.leader === status.header.member_id) return true;
        }
        return false;
      });
      const failoverMs = Date.now() - pausedAt;
      console.log(`paused leader replaced after ${failoverMs} ms (election timeout ${electionMs} ms)`);
      // Randomized timeouts lie in [1, 2) election timeouts, then an election
      // round; the margin covers a busy CI machine's late timers.
      assert.ok(failoverMs < 4 * electionMs, `failover took ${failoverMs} ms`);
    } finally {
      leader.process!.kill("SIGCONT");
    }
    writer.start(1);
    await waitFor("writes after the pause", async () => writer.acknowledged.length >= 20);
    await writer.stop();
    const last = writer.acknowledged[writer.acknowledged.length - 1]!;
    await waitFor("the resumed member to catch up", async () => (await readValue(leader.clientUrl, last.key, "serializable")) === last.value);
  });
});

describe("minority", () => {
  let cluster: ProcessCluster;
  after(async () => cluster?.stop());

  test("a member cut off from the majority refuses writes and linearizable reads", async () => {
    cluster = await ProcessCluster.start({ size: 3 });
    const [lonely, ...others] = cluster.members;
    const put = await fetch(`${lonely!.clientUrl}/v1/kv/before`, { method: "PUT", body: "x" });
    assert.equal(put.status, 200);
    for (const member of others) await cluster.kill(member.name);

    const write = await fetch(`${lonely!.clientUrl}/v1/kv/after`, { method: "PUT", body: "y", signal: AbortSignal.timeout(20_000) });
    assert.ok(write.status >= 500, `a write without a quorum must fail, got ${write.status}`);
    const read = await fetch(`${lonely!.clientUrl}/v1/kv/before`, { signal: AbortSignal.timeout(20_000) });
    assert.ok(read.status >= 500, `a linearizable read without a quorum must fail, got ${read.status}`);
    assert.equal(await readValue(lonely!.clientUrl, "before", "serializable"), "x", "a serializable read is still served locally");
  });
});
