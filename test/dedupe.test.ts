/**
 * Safe retries on a real 3-node cluster: a write sent with an
 * Idempotency-Key applies once, whichever member the retry reaches, after a
 * SIGKILL of the leader that took the first attempt, and on a member that
 * restarted and caught up through a snapshot. Every retry gets the first
 * attempt's outcome: the same revision, the same body, the same error.
 */
import assert from "node:assert/strict";
import { rm } from "node:fs/promises";
import { after, before, describe, test } from "node:test";
import { ProcessCluster, b64, postJson, unb64, waitFor, type ClusterMember } from "./support/process-cluster.js";

let cluster: ProcessCluster;

interface Reply {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

interface Header {
  readonly revision: string;
  readonly member_id: string;
}

async function post(member: ClusterMember, path: string, body: unknown, idempotencyKey?: string): Promise<Reply> {
  const response = await fetch(`${member.clientUrl}${path}`, {
    method: "POST",
    headers: idempotencyKey === undefined ? {} : { "idempotency-key": idempotencyKey },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

function putBody(key: string, value: string, fields: Record<string, unknown> = {}): Record<string, unknown> {
  return { key: b64(key), value: b64(value), ...fields };
}

async function put(member: ClusterMember, key: string, value: string, idempotencyKey?: string, fields?: Record<string, unknown>): Promise<Reply> {
  return post(member, "/v3/kv/put", putBody(key, value, fields), idempotencyKey);
}

const revisionOf = (reply: Reply): number => Number((reply.body.header as Header).revision);

/** A reply without what differs from member to member: who answered, in which term (in nested headers too). */
function memberless(reply: Reply): unknown {
  const strip = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(strip);
    if (typeof value !== "object" || value === null) return value;
    const fields = Object.entries(value).filter(([name]) => name !== "member_id" && name !== "raft_term");
    return Object.fromEntries(fields.map(([name, field]) => [name, strip(field)]));
  };
  return { status: reply.status, ...(strip(reply.body) as object) };
}

async function kvOf(member: ClusterMember, key: string): Promise<{ version: number; modRevision: number; value: string }> {
  const range = await postJson(member.clientUrl, "/v3/kv/range", { key: b64(key) });
  const [kv] = (range.kvs ?? []) as { version: string; mod_revision: string; value: string }[];
  assert.ok(kv, `${key} exists`);
  return { version: Number(kv.version), modRevision: Number(kv.mod_revision), value: unb64(kv.value) };
}

/** Sends until some running member answers with a reply that is not a failover error, trying the members in turn. */
async function retryUntilAnswered(send: (member: ClusterMember) => Promise<Reply>): Promise<Reply> {
  let turn = 0;
  return waitFor(
    "a member to answer the retry",
    async () => {
      const members = cluster.running();
      const reply = await send(members[turn++ % members.length]!);
      return reply.status < 500 ? reply : undefined;
    },
    30_000,
  );
}

describe("writes with an Idempotency-Key on a real cluster", () => {
  before(async () => {
    // Small snapshot intervals, so that a member that was down catches up through a snapshot.
    cluster = await ProcessCluster.start({ size: 3, extraFlags: ["--snapshot-count=200", "--snapshot-catchup-entries=50"] });
  });
  after(async () => cluster?.stop());

  test("the same put sent to two members, one after the other and then at once, applies once", async () => {
    const [a, b, c] = cluster.members as [ClusterMember, ClusterMember, ClusterMember];
    await put(a, "twice", "v0");
    const first = await put(a, "twice", "v1", "two-members", { prev_kv: true });
    const retry = await put(b, "twice", "v1", "two-members", { prev_kv: true });
    assert.equal(first.status, 200);
    assert.deepEqual(memberless(retry), memberless(first));
    assert.ok((retry.body.prev_kv as { value: string }).value === b64("v0"), "the retry shows the value the first attempt replaced");
    assert.deepEqual(await kvOf(c, "twice"), { version: 2, modRevision: revisionOf(first), value: "v1" });

    const atOnce = await Promise.all([a, b, c, a].map((member) => put(member, "twice", "v2", "at-once")));
    assert.equal(new Set(atOnce.map(revisionOf)).size, 1, `revisions ${atOnce.map(revisionOf)}`);
    assert.deepEqual(await kvOf(a, "twice"), { version: 3, modRevision: revisionOf(atOnce[0]!), value: "v2" });
  });

  test("every write route of both APIs answers a retry with the first outcome", async () => {
    const [a, b] = cluster.members as [ClusterMember, ClusterMember];
    const grant = await post(a, "/v3/lease/grant", { TTL: 60 }, "grant-1");
    assert.deepEqual(memberless(await post(b, "/v3/lease/grant", { TTL: 60 }, "grant-1")), memberless(grant));
    const leases = await postJson(a.clientUrl, "/v3/lease/leases", {});
    assert.equal((leases.leases as unknown[]).length, 1, "one lease granted");

    const txn = { compare: [{ key: b64("txn-key"), target: "VERSION", result: "EQUAL", version: 0 }], success: [{ request_put: putBody("txn-key", "x") }] };
    const firstTxn = await post(a, "/v3/kv/txn", txn, "txn-1");
    assert.equal(firstTxn.body.succeeded, true);
    assert.deepEqual(memberless(await post(b, "/v3/kv/txn", txn, "txn-1")), memberless(firstTxn), "not a failed compare the second time");

    const deletion = await post(a, "/v3/kv/deleterange", { key: b64("txn-key"), prev_kv: true }, "delete-1");
    assert.deepEqual(memberless(await post(b, "/v3/kv/deleterange", { key: b64("txn-key"), prev_kv: true }, "delete-1")), memberless(deletion));
    assert.equal((await post(a, "/v3/kv/deleterange", { key: b64("txn-key") })).body.deleted, undefined, "without a key, deleting again deletes nothing");

    const native = async (member: ClusterMember, method: string) => {
      const body = method === "PUT" ? "v" : undefined;
      const response = await fetch(`${member.clientUrl}/v1/kv/native-key`, { method, body, headers: { "idempotency-key": `native-${method}` } });
      return { status: response.status, body: await response.json(), revision: response.headers.get("x-raftkv-revision") };
    };
    const nativePut = await native(a, "PUT");
    assert.deepEqual(await native(b, "PUT"), nativePut);
    assert.equal((await kvOf(a, "native-key")).version, 1);
    const nativeDelete = await native(b, "DELETE");
    assert.deepEqual(await native(a, "DELETE"), nativeDelete);
    assert.equal((nativeDelete.body as { deleted: number }).deleted, 1);

    const revoke = await post(a, "/v3/lease/revoke", { ID: (grant.body as { ID: string }).ID }, "revoke-1");
    assert.deepEqual(memberless(await post(b, "/v3/lease/revoke", { ID: (grant.body as { ID: string }).ID }, "revoke-1")), memberless(revoke));
    assert.equal(revoke.status, 200, "not 'lease not found' for the retry");
  });

  test("a rejected first attempt gives every retry the same error; bad and reused keys are refused", async () => {
    const [a, b] = cluster.members as [ClusterMember, ClusterMember];
    const first = await put(a, "absent", "", "rejected-1", { ignore_value: true });
    assert.deepEqual([first.status, first.body.message], [400, "etcdserver: key not found"]);
    await put(a, "absent", "now present");
    assert.deepEqual(memberless(await put(b, "absent", "", "rejected-1", { ignore_value: true })), memberless(first));

    const reused = await put(b, "other", "v", "rejected-1");
    assert.deepEqual([reused.status, reused.body.message], [400, "raftkv: the request id was already used for a different request"]);
    const tooLong = await put(a, "k", "v", "x".repeat(129));
    assert.equal(tooLong.status, 400);
    assert.match(String(tooLong.body.message), /idempotency-key must NOT have more than 128 characters/);
    const empty = await fetch(`${a.clientUrl}/v1/kv/k`, { method: "PUT", body: "v", headers: { "idempotency-key": "" } });
    assert.equal(empty.status, 400);
    assert.match(String(((await empty.json()) as { message: string }).message), /idempotency-key must NOT have fewer than 1 characters/);
  });

  test("retries after a SIGKILL of the leader that took the first attempts apply once", async () => {
    const leader = await cluster.waitForLeader();
    const acknowledged = await put(leader, "failover/acked", "v", "acked-then-killed");
    assert.equal(acknowledged.status, 200);

    // Writes to one key from 4 lanes, cut by the kill: every write must count
    // once in the key's version, whether its first attempt was lost, applied
    // but unanswered, or answered. After the kill, first attempts fail fast.
    const lanes = 4;
    const writes = 40;
    let answered = 0;
    const write = async (i: number) => {
      const send = (member: ClusterMember) => put(member, "failover/counter", `w${i}`, `burst-${i}`);
      const first = await send(leader).catch(() => undefined);
      if (first?.status === 200) answered++;
      return { first, final: first?.status === 200 ? first : await retryUntilAnswered(send) };
    };
    const burst = Array.from({ length: lanes }, async (_, lane) => {
      const done = [];
      for (let i = lane; i < writes; i += lanes) done.push(await write(i));
      return done;
    });
    await waitFor("some of the burst to be answered", async () => answered >= 8);
    await cluster.kill(leader.name);
    const results = (await Promise.all(burst)).flat();

    const survivor = cluster.running()[0]!;
    const retry = await retryUntilAnswered((member) => put(member, "failover/acked", "v", "acked-then-killed"));
    assert.equal(revisionOf(retry), revisionOf(acknowledged));
    assert.equal((await kvOf(survivor, "failover/acked")).version, 1);

    assert.ok(results.every(({ final }) => final.status === 200));
    const revisions = new Set(results.map(({ final }) => revisionOf(final)));
    assert.equal(revisions.size, writes, "each write answered with its own revision");
    const counter = await kvOf(survivor, "failover/counter");
    assert.equal(counter.version, writes, "every write applied exactly once");
    assert.equal(counter.modRevision, Math.max(...revisions));
    const retried = results.filter(({ first }) => first?.status !== 200).length;
    console.log(`burst of ${writes} cut by the leader's SIGKILL: ${writes - retried} answered by it, ${retried} retried elsewhere; version ${counter.version}`);

    // The old leader restarts from its own disk and knows the ids too.
    cluster.restart(leader.name);
    await cluster.waitForLeader();
    const fromRestarted = await retryUntilAnswered(() => put(leader, "failover/acked", "v", "acked-then-killed"));
    assert.equal(revisionOf(fromRestarted), revisionOf(acknowledged));
  });

  test("a member that lost its data and rejoined through a snapshot answers a retry with the first outcome", async () => {
    const leader = await cluster.waitForLeader();
    const wiped = cluster.members.find((member) => member !== leader)!;
    await cluster.kill(wiped.name);
    await rm(wiped.dataDir, { recursive: true, force: true });
    const first = await put(leader, "snapshot/key", "v", "before-snapshot", { prev_kv: true });
    for (let i = 0; i < 250; i++) await put(leader, `snapshot/filler-${i % 10}`, "x");

    cluster.restart(wiped.name);
    await waitFor("the wiped member to install a snapshot", async () => /snapshot installed/.test(wiped.output.join("")), 30_000);
    const revision = revisionOf(await post(leader, "/v3/maintenance/status", {}));
    await waitFor("the restarted member to catch up", async () => revisionOf(await post(wiped, "/v3/maintenance/status", {})) >= revision);

    const retry = await put(wiped, "snapshot/key", "v", "before-snapshot", { prev_kv: true });
    assert.deepEqual(memberless(retry), memberless(first));
    assert.equal((await kvOf(wiped, "snapshot/key")).version, 1);
    const hashes = await Promise.all(cluster.running().map(async (member) => (await post(member, "/v3/maintenance/hash", { revision })).body.hash));
    assert.equal(new Set(hashes).size, 1, `HashKV at ${revision}: ${hashes}`);
  });
});
