/**
 * A member that cannot serve says so at once: with no leader, a
 * linearizable read, a write and /readyz are answered with etcd's
 * 'etcdserver: no leader' (gRPC Unavailable, HTTP 503) well before a client's
 * 5 s deadline, whether the peers are gone (their connections reset: the
 * member knows at once it reaches no quorum) or silent (SIGSTOP: it finds out
 * within an election timeout or two), so that clients move to another member.
 */
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { ProcessCluster, type ClusterMember } from "./support/process-cluster.js";

const CLIENT_DEADLINE_MS = 5_000;
const b64 = (text: string) => Buffer.from(text).toString("base64");

interface Answer {
  readonly status: number;
  readonly body: { error?: string; code?: number };
}

/** POSTs to the gateway; a request still unanswered at the client's deadline throws. */
async function gateway(member: ClusterMember, path: string, body: object): Promise<Answer> {
  const response = await fetch(`${member.clientUrl}${path}`, { method: "POST", body: JSON.stringify(body), signal: AbortSignal.timeout(CLIENT_DEADLINE_MS) });
  return { status: response.status, body: (await response.json()) as Answer["body"] };
}

async function assertNoLeaderAnswers(member: ClusterMember): Promise<void> {
  const noLeader = { status: 503, body: { error: "etcdserver: no leader", code: 14 } };
  const read = await gateway(member, "/v3/kv/range", { key: b64("k") });
  assert.deepEqual({ status: read.status, body: { error: read.body.error, code: read.body.code } }, noLeader, "a linearizable read");
  const write = await gateway(member, "/v3/kv/put", { key: b64("k"), value: b64("w") });
  assert.deepEqual({ status: write.status, body: { error: write.body.error, code: write.body.code } }, noLeader, "a write");
  const ready = await fetch(`${member.clientUrl}/readyz`, { signal: AbortSignal.timeout(CLIENT_DEADLINE_MS) });
  assert.equal(ready.status, 503, "/readyz");
  const serializable = await gateway(member, "/v3/kv/range", { key: b64("k"), serializable: true });
  assert.equal(serializable.status, 200, "a serializable read is still served");
}

describe("a member with no leader", () => {
  let cluster: ProcessCluster | undefined;
  let paused: ClusterMember[] = [];
  after(async () => {
    for (const member of paused) member.process?.kill("SIGCONT");
    await cluster?.stop();
  });

  test("answers 'no leader' before the client's deadline when its peers were killed", async () => {
    cluster = await ProcessCluster.start({ size: 3 });
    const [lonely, ...others] = cluster.members as [ClusterMember, ...ClusterMember[]];
    assert.equal((await gateway(lonely, "/v3/kv/put", { key: b64("k"), value: b64("v") })).status, 200);
    for (const member of others) await cluster.kill(member.name);
    await assertNoLeaderAnswers(lonely);
    await cluster.stop();
    cluster = undefined;
  });

  test("answers 'no leader' before the client's deadline when its peers are paused", async () => {
    cluster = await ProcessCluster.start({ size: 3 });
    const [lonely, ...others] = cluster.members as [ClusterMember, ...ClusterMember[]];
    assert.equal((await gateway(lonely, "/v3/kv/put", { key: b64("k"), value: b64("v") })).status, 200);
    paused = others;
    for (const member of others) member.process?.kill("SIGSTOP");
    await assertNoLeaderAnswers(lonely);
  });
});
