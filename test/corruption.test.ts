/**
 * The corruption check on a real cluster: a member whose stored data was
 * damaged while it was stopped finds out at start-up, before it serves; the
 * CORRUPT alarm it raises reaches every member through the log, shows in
 * status, /health and /metrics, and stops writes. Cleared while the damage
 * is still there, the alarm comes back from the leader's periodic check.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { MvccStore } from "@raftkv/mvcc";
import { assertRefused, health, memberId, metric } from "./support/cluster-ops.js";
import { ProcessCluster, b64, postJson, unb64, waitFor, type ClusterMember } from "./support/process-cluster.js";

const ORIGINAL = "a value written through raft";
const DAMAGED = "A VALUE WRITTEN THROUGH RAFT";

/**
 * Damages one stored value behind raft's back, as a bad disk would: the
 * store is exported, the value's bytes are overwritten in place (same
 * length, so the encoding stays valid), and the result imported again.
 * Applied index and revision stay as they were.
 */
async function damageStoredValue(dataDir: string): Promise<void> {
  const store = await MvccStore.open(join(dataDir, "kv"));
  try {
    const exported = await store.exportSnapshot();
    const chunks: Uint8Array[] = [];
    for await (const chunk of exported.chunks) chunks.push(replaceBytes(chunk, ORIGINAL, DAMAGED));
    await store.importSnapshot(chunks);
    const read = store.range({ key: Buffer.from("victim") });
    assert.equal(Buffer.from(read.kvs[0]!.value).toString(), DAMAGED, "the damage is in the store");
    assert.equal(store.revision, exported.revision);
  } finally {
    await store.close();
  }
}

function replaceBytes(chunk: Uint8Array, from: string, to: string): Uint8Array {
  const bytes = Buffer.from(chunk);
  const at = bytes.indexOf(from);
  if (at >= 0) bytes.write(to, at);
  return bytes;
}

async function alarms(member: ClusterMember): Promise<{ memberID: string; alarm: string }[]> {
  const response = await postJson(member.clientUrl, "/v3/maintenance/alarm", { action: "GET" });
  return (response.alarms as { memberID: string; alarm: string }[] | undefined) ?? [];
}

test("a member restarted on damaged data raises a CORRUPT alarm every member reports; the leader's periodic check raises it again", async (t) => {
  const cluster = await ProcessCluster.start({
    size: 3,
    extraFlags: ["--experimental-initial-corrupt-check=true", "--experimental-corrupt-check-time=1s"],
  });
  t.after(() => cluster.stop());
  const leader = await cluster.waitForLeader();
  await postJson(leader.clientUrl, "/v3/kv/put", { key: b64("victim"), value: b64(ORIGINAL) });
  const victim = cluster.members.find((member) => member !== leader)!;
  const victimId = await memberId(cluster, victim);
  await waitFor("the victim to hold the value", async () => {
    const range = await postJson(victim.clientUrl, "/v3/kv/range", { key: b64("victim"), serializable: true });
    return unb64((range.kvs as { value: string }[] | undefined)?.[0]?.value ?? "") === ORIGINAL;
  });
  assert.deepEqual(await alarms(leader), [], "consistent members raise nothing");

  await cluster.kill(victim.name, "SIGTERM");
  await damageStoredValue(victim.dataDir);
  cluster.restart(victim.name);

  const corrupt = [{ memberID: victimId, alarm: "CORRUPT" }];
  await waitFor("the CORRUPT alarm on every member", async () => {
    for (const member of cluster.members) if (JSON.stringify(await alarms(member)) !== JSON.stringify(corrupt)) return false;
    return true;
  });
  assert.match(victim.output.join(""), /initial corruption check: data inconsistency found/);
  for (const member of cluster.members) {
    const status = await postJson(member.clientUrl, "/v3/maintenance/status", {});
    assert.deepEqual(status.errors, [`memberID:${victimId} alarm:CORRUPT `], `${member.name} status`);
    assert.deepEqual(await health(member), { status: 503, health: "false", reason: "ALARM CORRUPT" }, `${member.name} /health`);
    assert.equal(await metric(member, 'raftkv_alarms{alarm="CORRUPT"}'), 1, `${member.name} /metrics`);
  }
  await assertRefused(postJson(leader.clientUrl, "/v3/kv/put", { key: b64("more"), value: b64("x") }), "etcdserver: corrupt cluster");

  // etcdctl alarm disarm: deactivate each alarm listed.
  const cleared = await postJson(leader.clientUrl, "/v3/maintenance/alarm", { action: "DEACTIVATE", memberID: victimId, alarm: "CORRUPT" });
  assert.deepEqual(cleared.alarms, corrupt);
  const current = await cluster.waitForLeader();
  await waitFor("the periodic check to raise it again", async () => JSON.stringify(await alarms(current)) === JSON.stringify(corrupt), 10_000);
  assert.match(current.output.join(""), /periodic corruption check: data inconsistency found/);
});
