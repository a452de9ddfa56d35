/**
 * Snapshots and log compaction on a real cluster: with a small snapshot
 * interval the WAL stays bounded, and a follower that was down (or wiped)
 * catches up through a streamed snapshot, ending with identical data.
 */
import assert from "node:assert/strict";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { receiveSnapshotFile } from "@raftkv/snapshot";
import { after, test } from "node:test";
import { ProcessCluster, postJson, waitFor } from "./support/process-cluster.js";

async function writeMany(clientUrl: string, prefix: string, count: number): Promise<void> {
  const lanes = 8;
  await Promise.all(
    Array.from({ length: lanes }, async (_, lane) => {
      for (let i = lane; i < count; i += lanes) {
        const response = await fetch(`${clientUrl}/v1/kv/${prefix}/${i}`, { method: "PUT", body: `value-${i}`.repeat(8) });
        assert.equal(response.status, 200);
      }
    }),
  );
}

async function hashOf(clientUrl: string, revision: number): Promise<string> {
  const reply = await postJson(clientUrl, "/v3/maintenance/hash", { revision });
  return String(reply.hash);
}

test("a wiped follower rejoins through a snapshot and serves identical data", async () => {
  const cluster = await ProcessCluster.start({ size: 3, extraFlags: ["--snapshot-count=200", "--snapshot-catchup-entries=50"] });
  after(async () => cluster.stop());
  const leader = await cluster.waitForLeader();
  const follower = cluster.members.find((member) => member !== leader)!;
  await cluster.kill(follower.name);
  await rm(follower.dataDir, { recursive: true, force: true });

  await writeMany(leader.clientUrl, "snap", 2_000);
  const walFiles = await readdir(join(leader.dataDir, "wal"));
  const snapFiles = (await readdir(join(leader.dataDir, "snap"))).filter((name) => name.endsWith(".snap"));
  assert.ok(snapFiles.length >= 1 && snapFiles.length <= 2, `snapshot files kept: ${snapFiles}`);

  cluster.restart(follower.name);
  await waitFor("the wiped follower to install a snapshot", async () => /snapshot installed/.test(follower.output.join("")), 30_000);
  const status = await postJson(leader.clientUrl, "/v3/maintenance/status", {});
  const revision = Number((status.header as { revision: string }).revision);
  await waitFor("the follower to reach the leader's revision", async () => {
    const mine = await postJson(follower.clientUrl, "/v3/maintenance/status", {});
    return Number((mine.header as { revision: string }).revision) >= revision;
  });
  const hashes = await Promise.all(cluster.running().map((member) => hashOf(member.clientUrl, revision)));
  assert.equal(new Set(hashes).size, 1, `HashKV at ${revision} differs: ${hashes}`);
  console.log(`wiped follower rejoined by snapshot; HashKV ${hashes[0]} on all 3 at revision ${revision}; leader WAL files: ${walFiles.length}`);
});

test("/v3/maintenance/snapshot streams a verified, restorable snapshot file", async () => {
  const cluster = await ProcessCluster.start({ size: 3 });
  after(async () => cluster.stop());
  const member = cluster.members[0]!;
  await writeMany(member.clientUrl, "backup", 100);
  const response = await fetch(`${member.clientUrl}/v3/maintenance/snapshot`, { method: "POST", body: "{}" });
  const lines = (await response.text()).split("\n").filter(Boolean);
  const messages = lines.map((line) => JSON.parse(line) as { result: { blob: string; remaining_bytes?: string } });
  assert.equal(messages[messages.length - 1]!.result.remaining_bytes, undefined, "the last blob leaves nothing remaining");
  const dir = await mkdtemp(join(tmpdir(), "raftkv-backup-"));
  const received = await receiveSnapshotFile(
    dir,
    messages.map((message) => Buffer.from(message.result.blob, "base64")),
  );
  assert.ok(received.raft.index > 100, `snapshot at index ${received.raft.index}`);
  assert.equal(received.raft.conf.voters.length, 3);
});

test("members SIGKILLed while taking or installing snapshots restart and converge", async () => {
  const cluster = await ProcessCluster.start({ size: 3, extraFlags: ["--snapshot-count=50", "--snapshot-catchup-entries=10"] });
  after(async () => cluster.stop());
  const leader = await cluster.waitForLeader();
  const victim = cluster.members.find((member) => member !== leader)!;
  let kills = 0;
  // Snapshots are taken every 50 entries: killing every few hundred writes
  // lands kills in and around snapshot creation on the victim.
  for (let round = 0; round < 4; round++) {
    await writeMany(leader.clientUrl, `crash-${round}`, 120);
    await cluster.kill(victim.name);
    kills++;
    if (round % 2 === 1) await rm(victim.dataDir, { recursive: true, force: true });
    await writeMany(leader.clientUrl, `down-${round}`, 120);
    cluster.restart(victim.name);
    // A wiped victim is catching up by snapshot: kill it as soon as the transfer lands.
    if (round % 2 === 1) {
      await waitFor("a snapshot to reach the victim", async () => /snapshot received/.test(victim.output.join("")), 30_000);
      await cluster.kill(victim.name);
      kills++;
      cluster.restart(victim.name);
    }
  }
  const status = await postJson(leader.clientUrl, "/v3/maintenance/status", {});
  const revision = Number((status.header as { revision: string }).revision);
  await waitFor(
    "the victim to catch up",
    async () => Number(((await postJson(victim.clientUrl, "/v3/maintenance/status", {})).header as { revision: string }).revision) >= revision,
    30_000,
  );
  const hashes = await Promise.all(cluster.running().map((member) => hashOf(member.clientUrl, revision)));
  assert.equal(new Set(hashes).size, 1, `HashKV differs after ${kills} kills: ${hashes}`);
});
