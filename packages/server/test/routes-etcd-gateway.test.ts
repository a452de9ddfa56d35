/**
 * Every etcd gateway route in-process, with fastify's inject(), against the
 * real services over a one-member stand-in for Raft: what each answers to a
 * good request, and the status and etcd error body for a bad one.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { FastifyInstance } from "fastify";
import { etcdGatewayPlugin } from "../src/http/etcd-gateway/routes.js";
import { MEMBER_ID, appWith, oneMemberServices, urlOf, type Json, type ServicesFixture } from "./support/services.js";

const b64 = (text: string): string => Buffer.from(text).toString("base64");
const unb64 = (text: string): string => Buffer.from(text, "base64").toString();

async function gatewayApp(services: ServicesFixture): Promise<FastifyInstance> {
  return appWith(etcdGatewayPlugin(services, services.auth));
}

interface Reply {
  readonly status: number;
  readonly json: Json;
}

async function post(app: FastifyInstance, url: string, body: unknown, headers: Record<string, string> = {}): Promise<Reply> {
  const payload = typeof body === "string" ? body : JSON.stringify(body);
  const response = await app.inject({ method: "POST", url, payload, headers });
  return { status: response.statusCode, json: JSON.parse(response.body) as Json };
}

/** Asserts a 200 and returns the body. */
async function ok(app: FastifyInstance, url: string, body: unknown = {}): Promise<Json> {
  const reply = await post(app, url, body);
  assert.equal(reply.status, 200, `${url}: ${JSON.stringify(reply.json)}`);
  return reply.json;
}

/**
 * The first `count` newline-separated messages of a streaming route; the
 * client then leaves. Over a socket, not inject(): a stream ends when its
 * client leaves, which only a closed connection tells the server.
 */
async function firstMessages(app: FastifyInstance, path: string, body: unknown, count: number, meanwhile?: () => Promise<unknown>): Promise<Json[]> {
  const leave = new AbortController();
  const response = await fetch(`${urlOf(app)}${path}`, { method: "POST", body: JSON.stringify(body), signal: leave.signal });
  assert.equal(response.status, 200);
  const messages: Json[] = [];
  let buffered = "";
  let acted = false;
  try {
    for await (const chunk of response.body ?? []) {
      buffered += Buffer.from(chunk).toString();
      const lines = buffered.split("\n");
      buffered = lines.pop() ?? "";
      messages.push(...lines.filter((line) => line !== "").map((line) => JSON.parse(line) as Json));
      if (messages.length >= count) break;
      if (!acted && meanwhile) {
        acted = true;
        await meanwhile();
      }
    }
  } finally {
    leave.abort();
  }
  return messages.slice(0, count);
}

describe("etcd gateway routes", () => {
  let services: ServicesFixture;
  let app: FastifyInstance;
  before(async () => {
    services = await oneMemberServices();
    app = await gatewayApp(services);
  });
  after(async () => {
    await app.close();
    await services.close();
  });

  test("kv: put, range, deleterange, txn and compaction answer in proto3 JSON", async () => {
    const put = await ok(app, "/v3/kv/put", { key: b64("k"), value: b64("v1") });
    assert.deepEqual(put.header, { cluster_id: "77", member_id: String(MEMBER_ID), revision: "2", raft_term: "1" });
    const overwritten = await ok(app, "/v3/kv/put", { key: b64("k"), value: b64("v2"), prev_kv: true });
    assert.equal(unb64(overwritten.prev_kv.value), "v1");
    const range = await ok(app, "/v3/kv/range", { key: b64("k"), serializable: true });
    assert.equal(unb64(range.kvs[0].value), "v2");
    assert.equal(range.count, "1");
    const txn = await ok(app, "/v3/kv/txn", {
      compare: [{ key: b64("k"), target: "VALUE", result: "EQUAL", value: b64("v2") }],
      success: [{ request_put: { key: b64("t"), value: b64("x") } }, { request_range: { key: b64("k") } }],
    });
    assert.equal(txn.succeeded, true);
    assert.ok(txn.responses[0].response_put);
    assert.equal(unb64(txn.responses[1].response_range.kvs[0].value), "v2");
    const deleted = await ok(app, "/v3/kv/deleterange", { key: b64("t") });
    assert.equal(deleted.deleted, "1");
    const compacted = await ok(app, "/v3/kv/compaction", { revision: "2" });
    assert.ok(compacted.header.revision);
  });

  test("a watch stream opens with `created`, then carries the events it was asked for", async () => {
    const messages = await firstMessages(app, "/v3/watch", { create_request: { key: b64("w") } }, 2, () =>
      ok(app, "/v3/kv/put", { key: b64("w"), value: b64("seen") }),
    );
    assert.equal(messages[0]?.result.created, true);
    assert.equal(unb64(messages[1]?.result.events[0].kv.value), "seen");
  });

  test("leases: grant, keep-alive, time-to-live, list and revoke, at etcd's paths and aliases", async () => {
    const grant = await ok(app, "/v3/lease/grant", { TTL: 30 });
    assert.equal(grant.TTL, "30");
    const id = grant.ID as string;
    assert.equal((await ok(app, "/v3/lease/keepalive", { ID: id })).result.TTL, "30");
    assert.equal((await ok(app, "/v3/lease/keepalive", { ID: "424242" })).result.TTL, undefined, "an unknown lease renews to TTL 0");
    await ok(app, "/v3/kv/put", { key: b64("leased"), value: b64("x"), lease: id });
    for (const url of ["/v3/lease/timetolive", "/v3/kv/lease/timetolive"]) {
      const ttl = await ok(app, url, { ID: id, keys: true });
      assert.deepEqual([ttl.grantedTTL, ttl.keys.map(unb64)], ["30", ["leased"]]);
    }
    for (const url of ["/v3/lease/leases", "/v3/kv/lease/leases"]) assert.deepEqual((await ok(app, url)).leases, [{ ID: id }]);
    await ok(app, "/v3/lease/revoke", { ID: id });
    const second = (await ok(app, "/v3/lease/grant", { TTL: 30 })).ID as string;
    await ok(app, "/v3/kv/lease/revoke", { ID: second });
    assert.equal((await ok(app, "/v3/lease/leases")).leases, undefined);
  });

  test("cluster: list, add a learner, promote, update and remove it", async () => {
    assert.deepEqual(
      (await ok(app, "/v3/cluster/member/list")).members.map((member: Json) => member.ID),
      [String(MEMBER_ID)],
    );
    const added = await ok(app, "/v3/cluster/member/add", { peerURLs: ["http://127.0.0.1:7"], isLearner: true });
    assert.equal(added.member.isLearner, true);
    const id = added.member.ID as string;
    await ok(app, "/v3/cluster/member/promote", { ID: id });
    const updated = await ok(app, "/v3/cluster/member/update", { ID: id, peerURLs: ["http://127.0.0.1:8"] });
    assert.deepEqual(updated.members.find((member: Json) => member.ID === id).peerURLs, ["http://127.0.0.1:8"]);
    const removed = await ok(app, "/v3/cluster/member/remove", { ID: id });
    assert.equal(removed.members.length, 1);
  });

  test("maintenance: status, hash at both paths, alarms, a snapshot stream and a transfer to itself", async () => {
    const status = await ok(app, "/v3/maintenance/status");
    assert.deepEqual([status.version, status.leader], ["3.4.0", String(MEMBER_ID)]);
    for (const url of ["/v3/maintenance/hash", "/v3/maintenance/hashkv"]) assert.equal(typeof (await ok(app, url)).hash, "number");
    const raised = await ok(app, "/v3/maintenance/alarm", { action: "ACTIVATE", memberID: MEMBER_ID, alarm: "NOSPACE" });
    assert.deepEqual(raised.alarms, [{ memberID: String(MEMBER_ID), alarm: "NOSPACE" }]);
    assert.deepEqual((await ok(app, "/v3/maintenance/alarm", { action: "GET" })).alarms, raised.alarms);
    await ok(app, "/v3/maintenance/alarm", { action: "DEACTIVATE", memberID: MEMBER_ID, alarm: "NOSPACE" });
    assert.equal((await ok(app, "/v3/maintenance/alarm", { action: "GET" })).alarms, undefined);
    const [blob] = await firstMessages(app, "/v3/maintenance/snapshot", {}, 1);
    assert.deepEqual([...Buffer.from(blob?.result.blob, "base64")], [1, 2, 3]);
    await ok(app, "/v3/maintenance/transfer-leadership", { targetID: MEMBER_ID });
  });

  test("locks and elections: lock, unlock, campaign, leader, proclaim, observe, resign", async () => {
    const lease = (await ok(app, "/v3/lease/grant", { TTL: 30 })).ID as string;
    const held = await ok(app, "/v3/lock/lock", { name: b64("job"), lease });
    assert.match(unb64(held.key), /^job\//);
    await ok(app, "/v3/lock/unlock", { key: held.key });
    const elected = await ok(app, "/v3/election/campaign", { name: b64("e"), lease, value: b64("me") });
    assert.equal(unb64((await ok(app, "/v3/election/leader", { name: b64("e") })).kv.value), "me");
    await ok(app, "/v3/election/proclaim", { leader: elected.leader, value: b64("still me") });
    const [observed] = await firstMessages(app, "/v3/election/observe", { name: b64("e") }, 1);
    assert.equal(unb64(observed?.result.kv.value), "still me");
    await ok(app, "/v3/election/resign", { leader: elected.leader });
  });

  const nested = { request_txn: { success: Array.from({ length: 128 }, (_, i) => ({ request_range: { key: b64(`k${i}`) } })) } };

  test("a write the store would refuse is refused before it is proposed, with the store's rule", async () => {
    const proposedBefore = services.raft.status().lastIndex;
    const refused = [
      await post(app, "/v3/kv/txn", { success: [nested] }),
      await post(app, "/v3/kv/put", { value: b64("no key") }),
      await post(app, "/v3/kv/txn", { success: [{ request_put: { key: b64("a") } }, { request_txn: { success: [{ request_put: { key: b64("a") } }] } }] }),
    ];
    assert.deepEqual(
      refused.map(({ status, json }) => [status, json.message]),
      [
        [400, "etcdserver: too many operations in txn request"],
        [400, "etcdserver: key is not provided"],
        [400, "etcdserver: duplicate key given in txn request"],
      ],
    );
    assert.equal(services.raft.status().lastIndex, proposedBefore);
  });

  test("a bad request gets etcd's status and error body", async () => {
    const cases: [url: string, body: unknown, status: number, message: RegExp][] = [
      ["/v3/kv/range", { key: "not base64!" }, 400, /^invalid base64 in field "key"$/],
      ["/v3/kv/range", {}, 400, /^etcdserver: key is not provided$/],
      ["/v3/kv/put", { key: {} }, 400, /^invalid request: /],
      ["/v3/kv/put", { value: b64("no key") }, 400, /^etcdserver: key is not provided$/],
      ["/v3/kv/deleterange", { key: b64("a"), prev_kv: "yes" }, 400, /^invalid request: /],
      ["/v3/kv/txn", { success: [nested] }, 400, /^etcdserver: too many operations in txn request$/],
      [
        "/v3/kv/txn",
        { success: [{ request_put: { key: b64("a") } }, { request_put: { key: b64("a") } }] },
        400,
        /^etcdserver: duplicate key given in txn request$/,
      ],
      ["/v3/kv/compaction", { revision: 1_000_000 }, 400, /^etcdserver: mvcc: required revision is a future revision$/],
      ["/v3/watch", { cancel_request: {} }, 400, /create_request/],
      ["/v3/lease/grant", { TTL: "thirty" }, 400, /^invalid request: /],
      ["/v3/lease/revoke", { ID: 999 }, 404, /^etcdserver: requested lease not found$/],
      ["/v3/kv/lease/revoke", { ID: 999 }, 404, /^etcdserver: requested lease not found$/],
      ["/v3/lease/keepalive", { ID: "x" }, 400, /^invalid request: /],
      ["/v3/lease/timetolive", { ID: 1, keys: "no" }, 400, /^invalid request: /],
      ["/v3/kv/lease/timetolive", { ID: "x" }, 400, /^invalid request: /],
      ["/v3/lease/leases", "[1]", 400, /^invalid request: /],
      ["/v3/kv/lease/leases", "[1]", 400, /^invalid request: /],
      ["/v3/cluster/member/list", "{", 400, /^invalid JSON body: /],
      ["/v3/cluster/member/add", { peerURLs: [{}] }, 400, /^invalid request: /],
      ["/v3/cluster/member/remove", { ID: 12345 }, 404, /^etcdserver: member not found$/],
      ["/v3/cluster/member/update", { ID: 12345, peerURLs: ["http://x"] }, 404, /^etcdserver: member not found$/],
      ["/v3/cluster/member/promote", { ID: MEMBER_ID }, 412, /^etcdserver: can only promote a learner member$/],
      // A URL every member would fail to parse when applying the change (it stopped every member's Raft loop).
      ["/v3/cluster/member/add", { peerURLs: ["http://127.0.0.1:422379"] }, 400, /^etcdserver: given member URLs are invalid$/],
      ["/v3/cluster/member/add", { peerURLs: ["not a url"] }, 400, /^etcdserver: given member URLs are invalid$/],
      ["/v3/cluster/member/add", { peerURLs: ["https://127.0.0.1:2380"] }, 400, /^etcdserver: given member URLs are invalid$/],
      ["/v3/cluster/member/update", { ID: MEMBER_ID, peerURLs: ["http://127.0.0.1:0x"] }, 400, /^etcdserver: given member URLs are invalid$/],
      ["/v3/maintenance/status", "[", 400, /^invalid JSON body: /],
      ["/v3/maintenance/hash", { revision: "x" }, 400, /^invalid request: /],
      ["/v3/maintenance/hashkv", { revision: "x" }, 400, /^invalid request: /],
      ["/v3/maintenance/snapshot", "[]", 400, /^invalid request: /],
      ["/v3/maintenance/transfer-leadership", { targetID: 99 }, 412, /^etcdserver: bad leader transferee$/],
      ["/v3/maintenance/alarm", { action: "EXPLODE" }, 400, /^invalid request: /],
      ["/v3/lock/lock", { name: "!!", lease: 1 }, 400, /^invalid base64 in field "name"$/],
      ["/v3/lock/unlock", { key: [] }, 400, /^invalid request: /],
      ["/v3/election/campaign", { name: b64("e"), lease: "x" }, 400, /^invalid request: /],
      ["/v3/election/proclaim", { leader: { name: b64("e"), key: b64("e/none"), rev: 1, lease: 1 }, value: b64("v") }, 412, /^election: not leader$/],
      ["/v3/election/leader", { name: b64("nobody") }, 404, /^election: no leader$/],
      ["/v3/election/observe", { name: "!!" }, 400, /^invalid base64 in field "name"$/],
      ["/v3/election/resign", { leader: "x" }, 400, /^invalid request: /],
      ["/v3/kv/put", { key: b64("a") }, 400, /idempotency-key/],
    ];
    const mismatches: string[] = [];
    for (const [url, body, status, message] of cases) {
      const headers: Record<string, string> = message.source === "idempotency-key" ? { "idempotency-key": "" } : {};
      const { status: got, json } = await post(app, url, body, headers);
      const etcdBody = json.error === json.message && typeof json.code === "number" && message.test(json.message);
      if (got !== status || !etcdBody) mismatches.push(`${url} ${JSON.stringify(body)}: ${got} ${JSON.stringify(json)}`);
    }
    assert.deepEqual(mismatches, []);
  });
});

describe("leader-only routes", () => {
  let leader: ServicesFixture;
  let leaderApp: FastifyInstance;
  let follower: ServicesFixture;
  let followerApp: FastifyInstance;
  before(async () => {
    leader = await oneMemberServices();
    leaderApp = await gatewayApp(leader);
    const leaderUrl = urlOf(leaderApp);
    follower = await oneMemberServices([{ id: 2, clientUrl: leaderUrl }]);
    follower.raft.leader = 2;
    followerApp = await gatewayApp(follower);
  });
  after(async () => {
    await followerApp.close();
    await leaderApp.close();
    await follower.close();
    await leader.close();
  });

  test("on a member that does not lead, a leader-only route is answered by the leader; the others are answered here", async () => {
    const added = await ok(followerApp, "/v3/cluster/member/add", { peerURLs: ["http://127.0.0.1:9"], isLearner: true });
    const id = added.member.ID as string;
    const onLeader = await ok(leaderApp, "/v3/cluster/member/list");
    assert.ok(
      onLeader.members.some((member: Json) => member.ID === id),
      "the leader took the change",
    );
    const here = await ok(followerApp, "/v3/cluster/member/list");
    assert.ok(!here.members.some((member: Json) => member.ID === id), "the follower's own registry did not");
    const refused = await post(followerApp, "/v3/cluster/member/remove", { ID: 12345 });
    assert.deepEqual([refused.status, refused.json.message], [404, "etcdserver: member not found"]);
  });
});
