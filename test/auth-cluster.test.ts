/**
 * Auth on real three-member clusters: a token one member issues works at
 * once on every member (simple tokens: the others wait for the issuing
 * entry if they have not applied it; JWTs: checked with the public key),
 * permissions hold on every member, and a restarted member still knows the
 * users and roles (they live in its store) while its simple tokens are gone
 * (as in etcd); a member that catches up by snapshot gets them with the keys.
 */
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { ProcessCluster, b64, waitFor } from "./support/process-cluster.js";

interface Reply {
  readonly status: number;
  readonly json: Record<string, unknown>;
}

async function post(baseUrl: string, path: string, body: unknown, token?: string): Promise<Reply> {
  const response = await fetch(`${baseUrl}${path}`, { method: "POST", headers: token ? { authorization: token } : {}, body: JSON.stringify(body) });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

async function ok(baseUrl: string, path: string, body: unknown, token?: string): Promise<Record<string, unknown>> {
  const reply = await post(baseUrl, path, body, token);
  assert.equal(reply.status, 200, `${path}: ${JSON.stringify(reply.json)}`);
  return reply.json;
}

/** Root, a role with read-write on app/, alice holding it, auth on; alice's token from the first member. */
async function setUp(cluster: ProcessCluster): Promise<{ root: string; alice: string }> {
  const url = cluster.members[0]!.clientUrl;
  await ok(url, "/v3/auth/user/add", { name: "root", password: "rootpw" });
  await ok(url, "/v3/auth/user/grant", { user: "root", role: "root" });
  await ok(url, "/v3/auth/enable", {});
  const root = (await ok(url, "/v3/auth/authenticate", { name: "root", password: "rootpw" })).token as string;
  await ok(url, "/v3/auth/role/add", { name: "app" }, root);
  await ok(url, "/v3/auth/role/grant", { name: "app", perm: { permType: "READWRITE", key: b64("app/"), range_end: b64("app0") } }, root);
  await ok(url, "/v3/auth/user/add", { name: "alice", password: "apw" }, root);
  await ok(url, "/v3/auth/user/grant", { user: "alice", role: "app" }, root);
  const alice = (await ok(url, "/v3/auth/authenticate", { name: "alice", password: "apw" })).token as string;
  return { root, alice };
}

async function tokenWorksEverywhere(cluster: ProcessCluster, token: string): Promise<void> {
  // At once, in parallel: no member gets time to catch up first.
  const replies = await Promise.all(
    cluster.members.map((member) => post(member.clientUrl, "/v3/kv/put", { key: b64("app/x"), value: b64(member.name) }, token)),
  );
  assert.deepEqual(
    replies.map((reply) => reply.status),
    [200, 200, 200],
    JSON.stringify(replies.map((reply) => reply.json)),
  );
  for (const member of cluster.members) {
    const denied = await post(member.clientUrl, "/v3/kv/put", { key: b64("other"), value: b64("v") }, token);
    assert.deepEqual([denied.status, denied.json.error], [403, "etcdserver: permission denied"], member.name);
  }
}

describe("auth on a three-member cluster", () => {
  const cleanUp: (() => Promise<void>)[] = [];
  after(async () => {
    for (const step of cleanUp) await step();
  });

  test("simple tokens: accepted at once by every member; users survive a restart, tokens do not", async () => {
    const cluster = await ProcessCluster.start({ size: 3, extraFlags: ["--bcrypt-cost=4"] });
    cleanUp.push(() => cluster.stop());
    const { alice } = await setUp(cluster);
    await tokenWorksEverywhere(cluster, alice);

    const restarted = cluster.members[2]!;
    await cluster.kill(restarted.name, "SIGTERM");
    await cluster.restart(restarted.name);
    await waitFor("the restarted member to serve", async () => (await fetch(`${restarted.clientUrl}/health`)).ok);
    const stale = await post(restarted.clientUrl, "/v3/kv/range", { key: b64("app/x") }, alice);
    assert.deepEqual([stale.status, stale.json.error], [401, "etcdserver: invalid auth token"]);
    const again = (await ok(restarted.clientUrl, "/v3/auth/authenticate", { name: "alice", password: "apw" })).token as string;
    await tokenWorksEverywhere(cluster, again);
  });

  test("a member that catches up by snapshot installs users, roles and auth with the keys", async () => {
    const cluster = await ProcessCluster.start({ size: 3, extraFlags: ["--bcrypt-cost=4", "--snapshot-count=20", "--snapshot-catchup-entries=5"] });
    cleanUp.push(() => cluster.stop());
    const behind = cluster.members[2]!;
    await cluster.kill(behind.name, "SIGKILL");
    const leaderUrl = cluster.members[0]!.clientUrl;
    const { alice } = await setUp(cluster);
    for (let i = 0; i < 60; i++) await ok(leaderUrl, "/v3/kv/put", { key: b64(`app/${i}`), value: b64("v") }, alice);
    await cluster.restart(behind.name);
    const token = await waitFor("the member behind to know alice", async () => {
      const reply = await post(behind.clientUrl, "/v3/auth/authenticate", { name: "alice", password: "apw" });
      return reply.status === 200 ? (reply.json.token as string) : undefined;
    });
    const read = await waitFor("the member behind to hold the keys", async () => {
      const reply = await post(behind.clientUrl, "/v3/kv/range", { key: b64("app/59"), serializable: true }, token);
      return reply.status === 200 && reply.json.count === "1" ? reply : undefined;
    });
    assert.equal(read.status, 200);
    const denied = await post(behind.clientUrl, "/v3/kv/range", { key: b64("other"), serializable: true }, token);
    assert.deepEqual([denied.status, denied.json.error], [403, "etcdserver: permission denied"]);
    assert.match(behind.output.join(""), /snapshot installed/, "the member caught up by a snapshot");
  });

  test("JWT: a token signed by one member is checked by every member with the public key", async () => {
    const dir = await mkdtemp(join(tmpdir(), "raftkv-jwt-"));
    cleanUp.push(() => rm(dir, { recursive: true, force: true }));
    const pair = generateKeyPairSync("ec", { namedCurve: "P-256" });
    await writeFile(join(dir, "pub.pem"), pair.publicKey.export({ type: "spki", format: "pem" }));
    await writeFile(join(dir, "priv.pem"), pair.privateKey.export({ type: "pkcs8", format: "pem" }));
    const spec = `jwt,pub-key=${join(dir, "pub.pem")},priv-key=${join(dir, "priv.pem")},sign-method=ES256,ttl=10m`;
    const cluster = await ProcessCluster.start({ size: 3, extraFlags: ["--bcrypt-cost=4", `--auth-token=${spec}`] });
    cleanUp.push(() => cluster.stop());
    const { alice } = await setUp(cluster);
    assert.equal(alice.split(".").length, 3, "a JWT");
    await tokenWorksEverywhere(cluster, alice);
  });
});
