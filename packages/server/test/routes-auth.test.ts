/**
 * Authentication and authorization in-process, over both front ends and
 * the real services: the auth routes and their errors, tokens voided by
 * changes, and a permission matrix: every route and op kind for users who
 * may read, write, both, or nothing under a prefix, and for root.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { FastifyInstance } from "fastify";
import { etcdGatewayPlugin } from "../src/http/etcd-gateway/routes.js";
import { nativePlugin } from "../src/http/native/routes.js";
import { appWith, oneMemberServices, urlOf, type Json, type ServicesFixture } from "./support/services.js";

const b64 = (text: string): string => Buffer.from(text).toString("base64");
let names = 0;
/** Locks and elections each under a name of their own, so that no call waits for another's holder. */
const unique = (prefix: string): string => `${prefix}${++names}`;
/** The keys the test's roles are given: everything under "app", and the service registry's entries for "app". */
const PREFIX = { key: b64("app"), range_end: b64("apq") };
const SERVICES = { key: b64("services/app"), range_end: b64("services/apq") };

interface Reply {
  readonly status: number;
  readonly json: Json;
}

async function firstLine(response: Response): Promise<string | undefined> {
  let text = "";
  for await (const chunk of response.body ?? []) {
    text += Buffer.from(chunk).toString();
    if (text.includes("\n")) break;
  }
  return text.split("\n")[0];
}

interface Call {
  readonly method?: string;
  readonly path: string;
  readonly body?: unknown;
  /** A stream that does not end by itself: its status is all we read. */
  readonly stream?: boolean;
}

describe("auth", () => {
  let services: ServicesFixture;
  let app: FastifyInstance;
  const tokens = new Map<string, string>();

  async function call({ method = "POST", path, body, stream = false }: Call, authorization?: string): Promise<Reply> {
    const leave = new AbortController();
    const headers: Record<string, string> = authorization ? { authorization } : {};
    const payload = body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body);
    const response = await fetch(`${urlOf(app)}${path}`, { method, headers, ...(payload === undefined ? {} : { body: payload }), signal: leave.signal });
    if (stream && response.status === 200) {
      // The first message of a gateway stream (a created or refused watch); a native stream's status is all we read.
      const first = path.startsWith("/v3/") ? await firstLine(response) : undefined;
      leave.abort();
      return { status: 200, json: first === undefined ? {} : (JSON.parse(first) as Json) };
    }
    const text = await response.text();
    return { status: response.status, json: text === "" ? {} : (JSON.parse(text) as Json) };
  }

  const asUser = (user: string): string => tokens.get(user) ?? assert.fail(`no token for ${user}`);

  async function ok(path: string, body: unknown = {}, authorization?: string): Promise<Json> {
    const reply = await call({ path, body }, authorization);
    assert.equal(reply.status, 200, `${path}: ${JSON.stringify(reply.json)}`);
    return reply.json;
  }

  async function refused(path: string, body: unknown, status: number, error: string, authorization?: string): Promise<void> {
    const reply = await call({ path, body }, authorization);
    assert.deepEqual({ status: reply.status, error: reply.json.error }, { status, error }, path);
  }

  async function login(user: string, password: string): Promise<string> {
    const { token } = await ok("/v3/auth/authenticate", { name: user, password });
    assert.equal(typeof token, "string");
    tokens.set(user, token as string);
    return token as string;
  }

  before(async () => {
    services = await oneMemberServices();
    app = await appWith(async (instance) => {
      await instance.register(etcdGatewayPlugin(services, services.auth));
      await instance.register(nativePlugin(services, services.auth));
    });
  });
  after(async () => {
    await app.close();
    await services.close();
  });

  test("auth cannot be turned on without a root user holding the root role; then it needs credentials", async () => {
    await refused("/v3/auth/authenticate", { name: "root", password: "x" }, 412, "etcdserver: authentication is not enabled");
    await refused("/v3/auth/enable", {}, 412, "etcdserver: root user does not exist");
    await ok("/v3/auth/user/add", { name: "root", password: "rootpw" });
    await refused("/v3/auth/enable", {}, 412, "etcdserver: root user does not have root role");
    await ok("/v3/auth/user/grant", { user: "root", role: "root" });
    await ok("/v3/auth/enable");
    assert.equal((await ok("/v3/auth/status")).enabled, true);

    await refused("/v3/kv/range", { key: b64("app/a") }, 400, "etcdserver: user name is empty");
    await refused("/v3/kv/range", { key: b64("app/a") }, 401, "etcdserver: invalid auth token", "not-a-token");
    await refused("/v3/auth/authenticate", { name: "root", password: "wrong" }, 400, "etcdserver: authentication failed, invalid user ID or password");
    await refused("/v3/auth/authenticate", { name: "nobody-at-all", password: "x" }, 400, "etcdserver: authentication failed, invalid user ID or password");
    const root = await login("root", "rootpw");
    assert.match(root, /^[a-zA-Z]{16}\.\d+$/);
    assert.deepEqual((await ok("/v3/auth/user/list", {}, root)).users, ["root"]);
    assert.equal((await call({ method: "GET", path: "/v1/kv/app/a" }, `Bearer ${root}`)).status, 404);
    assert.equal((await call({ method: "GET", path: "/v1/kv/app/a" }, `Basic ${b64("root:rootpw")}`)).status, 404);
    assert.equal((await call({ method: "GET", path: "/v1/kv/app/a" }, `Basic ${b64("root:wrong")}`)).status, 400);
  });

  test("users and roles: etcd's answers to good and bad management requests", async () => {
    const root = asUser("root");
    for (const [role, permType] of [
      ["reader", "READ"],
      ["writer", "WRITE"],
      ["both", "READWRITE"],
    ] as const) {
      await ok("/v3/auth/role/add", { name: role }, root);
      for (const range of [PREFIX, SERVICES]) await ok("/v3/auth/role/grant", { name: role, perm: { permType, ...range } }, root);
      await ok("/v3/auth/user/add", { name: role, password: `${role}pw` }, root);
      await ok("/v3/auth/user/grant", { user: role, role }, root);
    }
    await ok("/v3/auth/user/add", { name: "none", password: "nonepw" }, root);
    assert.deepEqual((await ok("/v3/auth/role/get", { role: "reader" }, root)).perm, [PREFIX, SERVICES]);
    assert.deepEqual((await ok("/v3/auth/role/get", { role: "both" }, root)).perm, [
      { permType: "READWRITE", ...PREFIX },
      { permType: "READWRITE", ...SERVICES },
    ]);
    assert.deepEqual((await ok("/v3/auth/user/get", { name: "writer" }, root)).roles, ["writer"]);
    assert.deepEqual((await ok("/v3/auth/role/list", {}, root)).roles, ["both", "reader", "writer"]);

    const bad: [string, unknown, number, string][] = [
      ["/v3/auth/user/add", { name: "", password: "x" }, 400, "etcdserver: user name is empty"],
      ["/v3/auth/user/add", { name: "reader", password: "x" }, 412, "etcdserver: user name already exists"],
      ["/v3/auth/user/get", { name: "ghost" }, 412, "etcdserver: user name not found"],
      ["/v3/auth/user/grant", { user: "none", role: "ghost" }, 412, "etcdserver: role name not found"],
      ["/v3/auth/user/grant", { user: "ghost", role: "reader" }, 412, "etcdserver: user name not found"],
      ["/v3/auth/user/revoke", { name: "none", role: "reader" }, 412, "etcdserver: role is not granted to the user"],
      ["/v3/auth/user/revoke", { name: "root", role: "root" }, 400, "etcdserver: invalid auth management"],
      ["/v3/auth/user/delete", { name: "root" }, 400, "etcdserver: invalid auth management"],
      ["/v3/auth/role/add", { name: "" }, 400, "etcdserver: role name is empty"],
      ["/v3/auth/role/add", { name: "reader" }, 412, "etcdserver: role name already exists"],
      ["/v3/auth/role/delete", { role: "root" }, 400, "etcdserver: invalid auth management"],
      ["/v3/auth/role/get", { role: "ghost" }, 412, "etcdserver: role name not found"],
      ["/v3/auth/role/grant", { name: "reader" }, 400, "etcdserver: permission not given"],
      ["/v3/auth/role/grant", { name: "reader", perm: { key: b64("b"), range_end: b64("a") } }, 400, "etcdserver: invalid auth management"],
      ["/v3/auth/role/revoke", { role: "reader", key: b64("zzz") }, 412, "etcdserver: permission is not granted to the role"],
    ];
    const revisionBefore = (await ok("/v3/auth/status")).authRevision;
    for (const [path, body, status, error] of bad) await refused(path, body, status, error, root);
    const badType = await call({ path: "/v3/auth/role/grant", body: { name: "reader", perm: { permType: "ALL" } } }, root);
    assert.equal(badType.status, 400);
    assert.match(badType.json.error, /^invalid request: .*permType/);
    assert.equal((await ok("/v3/auth/status")).authRevision, revisionBefore, "a refused change changes nothing");
    for (const user of ["reader", "writer", "both", "none"]) await login(user, `${user}pw`);
    await refused("/v3/auth/user/list", {}, 403, "etcdserver: permission denied", asUser("both"));
  });

  /** What each route needs, by op kind. */
  type Need = "read" | "write" | "readwrite" | "root" | "nothing";
  const leaseOf = async (): Promise<string> => (await ok("/v3/lease/grant", { TTL: 60 }, asUser("root"))).ID as string;
  const routes: [string, Need, () => Promise<Call>][] = [
    ["gateway range", "read", async () => ({ path: "/v3/kv/range", body: { key: b64("app/a") } })],
    ["gateway range of the prefix", "read", async () => ({ path: "/v3/kv/range", body: PREFIX })],
    ["gateway range beyond the prefix", "root", async () => ({ path: "/v3/kv/range", body: { key: b64("app/a"), range_end: "AA==" } })],
    ["gateway put", "write", async () => ({ path: "/v3/kv/put", body: { key: b64("app/a"), value: b64("v") } })],
    ["gateway put with prev_kv", "readwrite", async () => ({ path: "/v3/kv/put", body: { key: b64("app/a"), value: b64("v"), prev_kv: true } })],
    ["gateway deleterange", "write", async () => ({ path: "/v3/kv/deleterange", body: PREFIX })],
    ["gateway txn compare", "read", async () => ({ path: "/v3/kv/txn", body: { compare: [{ key: b64("app/a"), target: "VERSION", version: 0 }] } })],
    ["gateway txn put", "write", async () => ({ path: "/v3/kv/txn", body: { success: [{ request_put: { key: b64("app/b"), value: b64("v") } }] } })],
    [
      "gateway txn nested range",
      "read",
      async () => ({ path: "/v3/kv/txn", body: { failure: [{ request_txn: { success: [{ request_range: { key: b64("app/b") } }] } }] } }),
    ],
    ["gateway txn put outside", "root", async () => ({ path: "/v3/kv/txn", body: { success: [{ request_put: { key: b64("other"), value: b64("v") } }] } })],
    ["gateway watch", "read", async () => ({ path: "/v3/watch", body: { create_request: PREFIX }, stream: true })],
    ["gateway compaction", "root", async () => ({ path: "/v3/kv/compaction", body: { revision: 1 } })],
    ["gateway lease grant", "nothing", async () => ({ path: "/v3/lease/grant", body: { TTL: 60 } })],
    [
      "gateway lease revoke with a key",
      "write",
      async () => {
        const lease = await leaseOf();
        await ok("/v3/kv/put", { key: b64("app/leased"), value: b64("v"), lease }, asUser("root"));
        return { path: "/v3/lease/revoke", body: { ID: lease } };
      },
    ],
    [
      "gateway lease timetolive with keys",
      "read",
      async () => {
        const lease = await leaseOf();
        await ok("/v3/kv/put", { key: b64("app/leased2"), value: b64("v"), lease }, asUser("root"));
        return { path: "/v3/lease/timetolive", body: { ID: lease, keys: true } };
      },
    ],
    ["gateway lock", "readwrite", async () => ({ path: "/v3/lock/lock", body: { name: b64(unique("app/lock")), lease: await leaseOf() } })],
    [
      "gateway campaign",
      "readwrite",
      async () => ({ path: "/v3/election/campaign", body: { name: b64(unique("app/election")), lease: await leaseOf(), value: b64("me") } }),
    ],
    ["gateway member list", "nothing", async () => ({ path: "/v3/cluster/member/list", body: {} })],
    ["gateway member add", "root", async () => ({ path: "/v3/cluster/member/add", body: { peerURLs: ["http://127.0.0.1:1"], isLearner: true } })],
    ["gateway status", "root", async () => ({ path: "/v3/maintenance/status", body: {} })],
    ["gateway alarm", "root", async () => ({ path: "/v3/maintenance/alarm", body: { action: "GET" } })],
    ["gateway snapshot", "root", async () => ({ path: "/v3/maintenance/snapshot", body: {}, stream: true })],
    ["native get", "read", async () => ({ method: "GET", path: "/v1/kv/app/?prefix" })],
    ["native put", "write", async () => ({ method: "PUT", path: "/v1/kv/app/n", body: "v" })],
    ["native delete", "write", async () => ({ method: "DELETE", path: "/v1/kv/app/n" })],
    ["native watch", "read", async () => ({ method: "GET", path: "/v1/watch/app/?prefix", stream: true })],
    ["native lock", "readwrite", async () => ({ method: "POST", path: `/v1/locks/${unique("applock")}?ttl=60` })],
    ["native service register", "write", async () => ({ method: "POST", path: "/v1/services/app", body: JSON.stringify({ id: "i1", address: "a", port: 1 }) })],
    ["native service list", "read", async () => ({ method: "GET", path: "/v1/services/app" })],
  ];
  const MAY: Record<string, readonly Need[]> = {
    root: ["read", "write", "readwrite", "root", "nothing"],
    both: ["read", "write", "readwrite", "nothing"],
    reader: ["read", "nothing"],
    writer: ["write", "nothing"],
    none: ["nothing"],
  };

  test("the permission matrix: every route and op kind, for each kind of user", async () => {
    const wrong: string[] = [];
    for (const [name, need, prepare] of routes) {
      for (const [user, may] of Object.entries(MAY)) {
        const request = await prepare();
        const native = request.path.startsWith("/v1/");
        const reply = await call(request, native ? `Bearer ${asUser(user)}` : asUser(user));
        // A watch the user may not open is created and canceled at once, as etcd does.
        const refusedWatch = reply.json.result?.canceled === true;
        const allowed = (reply.status < 400 && !refusedWatch) || (native && reply.status === 404);
        const denied =
          (reply.status === 403 && reply.json.error === "etcdserver: permission denied") ||
          (refusedWatch && reply.json.result.cancel_reason === "rpc error: code = PermissionDenied desc = etcdserver: permission denied");
        if (may.includes(need) ? !allowed : !denied) wrong.push(`${name} as ${user}: ${reply.status} ${JSON.stringify(reply.json)}`);
      }
    }
    assert.deepEqual(wrong, []);
  });

  test("bad input: odd and huge names, malformed credentials; nothing changes and the member keeps serving", async () => {
    const root = asUser("root");
    const revisionBefore = (await ok("/v3/auth/status")).authRevision;
    await refused("/v3/auth/user/add", { name: "x".repeat(2 * 1024 * 1024), password: "p" }, 400, "etcdserver: request is too large", root);
    await refused("/v3/auth/authenticate", {}, 400, "etcdserver: authentication failed, invalid user ID or password");
    for (const token of ["", " ", "x".repeat(8_000), "Bearer", "abcdefghijklmnop.99999999999999999999", "a.b.c"]) {
      const reply = await call({ path: "/v3/kv/range", body: PREFIX }, token || undefined);
      assert.ok([400, 401].includes(reply.status), `token ${JSON.stringify(token.slice(0, 20))}: ${reply.status}`);
    }
    for (const header of ["Basic !!!", `Basic ${b64("no-colon")}`, "Digest abc", "Bearer nope"]) {
      const reply = await call({ method: "GET", path: "/v1/kv/app/a" }, header);
      assert.ok([400, 401].includes(reply.status), `${header}: ${reply.status} ${JSON.stringify(reply.json)}`);
    }
    assert.equal((await ok("/v3/auth/status")).authRevision, revisionBefore);
    const odd = ["ünïcödé", "with space", "a:b", "-dash", "x".repeat(10_000)];
    for (const name of odd) await ok("/v3/auth/user/add", { name, password: "p" }, root);
    const users = (await ok("/v3/auth/user/list", {}, root)).users as string[];
    for (const name of odd) assert.ok(users.includes(name), name.slice(0, 20));
    assert.ok(await login("a:b", "p"));
    for (const name of odd) await ok("/v3/auth/user/delete", { name }, root);
  });

  test("a token stops working when its user changes password or is deleted, or auth goes off and on", async () => {
    const root = asUser("root");
    const reader = asUser("reader");
    await ok("/v3/kv/range", PREFIX, reader);
    await ok("/v3/auth/user/changepw", { name: "reader", password: "new" }, root);
    await refused("/v3/kv/range", PREFIX, 401, "etcdserver: invalid auth token", reader);
    await refused("/v3/auth/authenticate", { name: "reader", password: "readerpw" }, 400, "etcdserver: authentication failed, invalid user ID or password");
    const renewed = await login("reader", "new");
    await ok("/v3/kv/range", PREFIX, renewed);

    await ok("/v3/auth/user/delete", { name: "writer" }, root);
    await refused("/v3/kv/put", { key: b64("app/a") }, 401, "etcdserver: invalid auth token", asUser("writer"));

    await ok("/v3/auth/disable", {}, root);
    await ok("/v3/kv/put", { key: b64("anything"), value: b64("v") }, "ignored-while-off");
    await ok("/v3/auth/enable");
    await refused("/v3/kv/range", PREFIX, 401, "etcdserver: invalid auth token", renewed);
    await refused("/v3/auth/disable", {}, 401, "etcdserver: invalid auth token", root);
    await ok("/v3/auth/disable", {}, await login("root", "rootpw"));
  });

  test("writes racing a revocation: none applied after the revocation, every one acknowledged is in the store", async () => {
    await ok("/v3/auth/enable");
    const root = await login("root", "rootpw");
    const writer = await login("both", "bothpw");
    let revokedAt: number | undefined;
    const acknowledged: number[] = [];
    const refusals = new Set<string>();
    let startRevocation = (): void => undefined;
    const halfway = new Promise<void>((resolve) => (startRevocation = resolve));
    // Four writers, one write at a time each; the revocation goes out once 40 writes are in.
    const writers = Array.from({ length: 4 }, async (_, lane) => {
      for (let i = 0; i < 50; i++) {
        const reply = await call({ path: "/v3/kv/put", body: { key: b64(`app/race/${lane}/${i}`), value: b64("v") } }, writer);
        if (reply.status === 200) acknowledged.push(Number(reply.json.header.revision));
        else refusals.add(reply.json.error as string);
        if (acknowledged.length >= 40) startRevocation();
      }
    });
    const revocation = (async () => {
      await halfway;
      await ok("/v3/auth/user/revoke", { name: "both", role: "both" }, root);
      revokedAt = services.kv.header().revision;
    })();
    await Promise.all([...writers, revocation]);
    assert.ok(refusals.has("etcdserver: permission denied"), "writes after the revocation are refused");
    const late = acknowledged.filter((revision) => revision > (revokedAt ?? 0));
    assert.deepEqual(late, [], "writes applied after the revocation");
    assert.deepEqual(
      [...refusals].filter((error) => !["etcdserver: permission denied", "etcdserver: revision of auth store is old"].includes(error)),
      [],
    );
    const stored = await ok("/v3/kv/range", { key: b64("app/race/"), range_end: b64("app/race0"), count_only: true }, root);
    assert.equal(Number(stored.count ?? 0), acknowledged.length, "every acknowledged write is stored, and no other");
    await ok("/v3/auth/disable", {}, root);
  });

  test("a write checked before auth changed is not applied", async () => {
    const { auth, kv } = services;
    const checkedAt = auth.state.revision;
    await auth.enable({});
    await assert.rejects(
      kv.put(
        { key: Buffer.from("app/late"), value: Buffer.from("v"), lease: 0, prevKv: false, ignoreValue: false, ignoreLease: false },
        { authRevision: checkedAt },
      ),
      { message: "etcdserver: revision of auth store is old" },
    );
    assert.equal(
      (
        await kv.range({
          key: Buffer.from("app/late"),
          rangeEnd: new Uint8Array(),
          limit: 0,
          revision: 0,
          sortOrder: "NONE",
          sortTarget: "KEY",
          serializable: true,
          keysOnly: false,
          countOnly: false,
          minModRevision: 0,
          maxModRevision: 0,
          minCreateRevision: 0,
          maxCreateRevision: 0,
        })
      ).count,
      0,
    );
  });
});
