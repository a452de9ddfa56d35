/**
 * The gateway's wire as etcd's grpc-gateway takes it, in process over the
 * real services: proto3 JSON names and unknown fields (inject()), the
 * /v3beta prefix, and calls over a WebSocket through the `ws` client
 * (Node 20 has no WebSocket of its own), auth included. The facts were
 * checked against etcd 3.4 (the root test/gateway-etcd.test.ts compares).
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { FastifyInstance } from "fastify";
import WebSocket from "ws";
import { etcdGatewayPlugin } from "../src/http/etcd-gateway/routes.js";
import type { MemberApis } from "../src/kv/api.js";
import { appWith, oneMemberServices, urlOf, type Json, type ServicesFixture } from "./support/services.js";

const b64 = (text: string): string => Buffer.from(text).toString("base64");
const unb64 = (text: string): string => Buffer.from(text, "base64").toString();

async function post(app: FastifyInstance, url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: Json }> {
  const response = await app.inject({ method: "POST", url, payload: JSON.stringify(body), headers });
  return { status: response.statusCode, json: JSON.parse(response.body) as Json };
}

async function ok(app: FastifyInstance, url: string, body: unknown = {}, headers: Record<string, string> = {}): Promise<Json> {
  const reply = await post(app, url, body, headers);
  assert.equal(reply.status, 200, `${url}: ${JSON.stringify(reply.json)}`);
  return reply.json;
}

/** Waits, without a timer of its own, until `condition` holds; gives up after 10 s. */
async function until(what: string, condition: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** A WebSocket client that keeps every message, and how the connection closed. */
class Client {
  readonly messages: Json[] = [];
  closeCode: number | undefined;

  private constructor(readonly socket: WebSocket) {
    socket.on("message", (data) => this.messages.push(JSON.parse(String(data)) as Json));
    socket.on("close", (code) => (this.closeCode = code));
    socket.on("error", () => undefined);
  }

  static async open(app: FastifyInstance, path: string, options: { protocols?: string[]; headers?: Record<string, string> } = {}): Promise<Client> {
    const socket = new WebSocket(`${urlOf(app).replace("http", "ws")}${path}`, options.protocols, { headers: options.headers });
    await new Promise((resolve, reject) => socket.once("open", resolve).once("error", reject));
    return new Client(socket);
  }

  send(...requests: unknown[]): void {
    for (const request of requests) this.socket.send(typeof request === "string" ? request : JSON.stringify(request));
  }

  /** The messages once there are `count`, without their headers. */
  async received(count: number): Promise<Json[]> {
    await until(`${count} messages`, () => this.messages.length >= count);
    return this.messages.map(withoutHeader);
  }

  async closed(): Promise<number> {
    await until("the close", () => this.closeCode !== undefined);
    return this.closeCode as number;
  }
}

function withoutHeader(message: Json): Json {
  if (!message.result) return Object.fromEntries(Object.entries(message).filter(([name]) => name !== "header"));
  const { header: _header, ...result } = message.result as Json;
  return { result };
}

describe("the gateway's wire", () => {
  let services: ServicesFixture;
  let app: FastifyInstance;
  before(async () => {
    services = await oneMemberServices();
    app = await appWith(etcdGatewayPlugin(services, services.auth));
  });
  after(async () => {
    await app.close();
    await services.close();
  });

  test("bodies take JSON names in every message, nested ones too, auth and lease requests included", async () => {
    await ok(app, "/v3/kv/put", { key: b64("n/a"), value: b64("1") });
    const second = await ok(app, "/v3/kv/put", { key: b64("n/a"), value: b64("2"), prevKv: true });
    assert.equal(unb64(second.prev_kv.value), "1");
    const keys = await ok(app, "/v3/kv/range", { key: b64("n/"), rangeEnd: b64("n0"), keysOnly: true, sortOrder: "DESCEND" });
    assert.deepEqual([keys.count, keys.kvs[0].value], ["1", undefined]);
    const txn = await ok(app, "/v3/kv/txn", {
      compare: [{ key: b64("n/a"), target: "VERSION", result: "EQUAL", version: 2 }],
      success: [{ requestTxn: { success: [{ requestDeleteRange: { key: b64("n/"), rangeEnd: b64("n0"), prevKv: true } }] } }],
    });
    assert.equal(txn.responses[0].response_txn.responses[0].response_delete_range.prev_kvs.length, 1);
    const lease = await ok(app, "/v3/lease/grant", { TTL: 30, ID: 606 });
    await ok(app, "/v3/kv/put", { key: b64("n/leased"), value: b64("x"), lease: lease.ID });
    assert.deepEqual((await ok(app, "/v3/lease/timetolive", { ID: 606, keys: true })).keys.map(unb64), ["n/leased"]);
    await ok(app, "/v3/auth/user/add", { name: "nopw", options: { noPassword: true } });
    await ok(app, "/v3/auth/role/add", { name: "names" });
    await ok(app, "/v3/auth/role/grant", { name: "names", perm: { permType: "WRITE", key: b64("n/"), rangeEnd: b64("n0") } });
    assert.deepEqual((await ok(app, "/v3/auth/role/get", { role: "names" })).perm, [{ permType: "WRITE", key: b64("n/"), range_end: b64("n0") }]);
    await ok(app, "/v3/auth/role/revoke", { role: "names", key: b64("n/"), rangeEnd: b64("n0") });
    assert.equal((await ok(app, "/v3/auth/role/get", { role: "names" })).perm, undefined);
  });

  test("names are mapped before the one validation, so a refusal names the proto field; unknown fields are ignored at any depth", async () => {
    const refused = await post(app, "/v3/kv/put", { key: b64("k"), prevKv: "yes" });
    assert.equal(refused.status, 400);
    assert.match(refused.json.message, /prev_kv/);
    const stored = await post(app, "/v3/kv/txn", {
      success: [{ requestPut: { key: b64("k"), value: b64("v"), surprise: [1] }, extra: true }],
      notATxnField: {},
    });
    assert.equal(stored.status, 200);
    assert.equal((await ok(app, "/v3/kv/range", { key: b64("k"), Key: "ignored", keys_only: false })).count, "1");
  });

  test("every route is served at /v3beta as at /v3, none at /v3alpha; a GET of a gateway path is etcd's 405", async () => {
    assert.equal((await ok(app, "/v3beta/kv/range", { key: b64("k") })).count, "1");
    assert.equal((await ok(app, "/v3beta/kv/lease/leases")).leases.length, 1);
    assert.equal((await ok(app, "/v3beta/maintenance/status")).version, "3.4.0");
    assert.equal((await ok(app, "/v3beta/auth/user/list")).users.includes("nopw"), true);
    const alpha = await post(app, "/v3alpha/kv/range", { key: b64("k") });
    assert.deepEqual([alpha.status, alpha.json.message], [404, "Not Found: POST /v3alpha/kv/range"]);
    const missing = await post(app, "/v3beta/kv/nothing", {});
    assert.deepEqual([missing.status, missing.json.message], [404, "Not Found: POST /v3beta/kv/nothing"], "a 404 names the path the client sent");
    const get = await app.inject({ method: "GET", url: "/v3/kv/range" });
    assert.deepEqual([get.statusCode, get.body], [405, "Method Not Allowed\n"]);
  });

  test("a lease grant with an ID in use is etcd's 412", async () => {
    await ok(app, "/v3/lease/grant", { TTL: 30, ID: 707 });
    const again = await post(app, "/v3beta/lease/grant", { TTL: 30, ID: "707" });
    assert.deepEqual([again.status, again.json.code, again.json.message], [412, 9, "etcdserver: lease already exists"]);
  });

  test("a watch stream over a WebSocket: many watches by either name, history, ids, progress, cancel, a duplicate id", async () => {
    const first = Number((await ok(app, "/v3/kv/put", { key: b64("w/1"), value: b64("one") })).header.revision);
    const client = await Client.open(app, "/v3/watch");
    client.send({ createRequest: { key: b64("w/"), rangeEnd: b64("w0"), startRevision: first }, unknown: 1 });
    assert.deepEqual(await client.received(2), [
      { result: { created: true } },
      { result: { events: [{ kv: { key: b64("w/1"), create_revision: String(first), mod_revision: String(first), version: "1", value: b64("one") } }] } },
    ]);
    client.send(
      { create_request: { key: b64("w/2"), watchId: 7 } },
      { progressRequest: {} },
      { cancelRequest: { watchId: 7 } },
      { cancel_request: { watch_id: 99 } },
      `${JSON.stringify({ create_request: { key: b64("w/2") } })}${JSON.stringify({ create_request: { key: b64("w/2"), watch_id: 1 } })}`,
    );
    const duplicate = "mvcc: duplicate watch ID provided on the WatchStream";
    assert.deepEqual((await client.received(7)).slice(2), [
      { result: { watch_id: "7", created: true } },
      { result: { watch_id: "-1" } },
      { result: { watch_id: "7", canceled: true } },
      { result: { watch_id: "1", created: true } },
      { result: { watch_id: "-1", created: true, canceled: true, cancel_reason: duplicate } },
    ]);
    await ok(app, "/v3/kv/put", { key: b64("w/2"), value: b64("live") });
    const live = (await client.received(9)).slice(7);
    assert.deepEqual(live.map((message) => [message.result.watch_id, unb64(message.result.events[0].kv.value)]).sort(), [
      [undefined, "live"],
      ["1", "live"],
    ]);
    client.socket.close(1000);
    assert.equal(await client.closed(), 1000);
  });

  test("a watch from a compacted revision is created, then canceled with the compact revision", async () => {
    const revision = Number((await ok(app, "/v3/kv/put", { key: b64("c"), value: b64("x") })).header.revision);
    await ok(app, "/v3/kv/compaction", { revision });
    const client = await Client.open(app, "/v3/watch");
    client.send({ create_request: { key: b64("c"), start_revision: 1 } });
    assert.deepEqual(await client.received(2), [{ result: { created: true } }, { result: { canceled: true, compact_revision: String(revision) } }]);
    client.socket.close();
  });

  test("a bad first request gets the call's error body (code 2 for a bidirectional stream) and the connection is dropped", async () => {
    for (const [path, request, code] of [
      ["/v3/watch", '{"create_request":{"key":5}}', 2],
      ["/v3/watch", '{"bad\n', 2],
      ["/v3/lease/keepalive", "[]", 2],
      ["/v3/kv/range", { key: "!!" }, 3],
      ["/v3/kv/range", {}, 3],
    ] as const) {
      const client = await Client.open(app, path);
      client.send(request);
      const [answer] = await client.received(1);
      assert.deepEqual([answer?.code, answer?.error === answer?.message], [code, true], `${path} ${JSON.stringify(request)}`);
      assert.equal(await client.closed(), 1006, "closed without a close frame, as etcd's proxy closes");
    }
  });

  test("a bad later request ends the client's side: a watch carries on and reads no more requests, a keep-alive stream ends", async () => {
    const watcher = await Client.open(app, "/v3/watch");
    watcher.send({ create_request: { key: b64("later") } });
    await watcher.received(1);
    watcher.send('{"bad', { create_request: { key: b64("ignored") } }, { progress_request: {} });
    await ok(app, "/v3/kv/put", { key: b64("later"), value: b64("x") });
    const [, event] = await watcher.received(2);
    assert.equal(unb64(event?.result.events[0].kv.key), "later");
    assert.equal(watcher.messages.length, 2, "the requests after the bad one were not read");
    watcher.socket.close(1000);
    assert.equal(await watcher.closed(), 1000);

    await ok(app, "/v3/lease/grant", { TTL: 90, ID: 808 });
    const keeper = await Client.open(app, "/v3/lease/keepalive");
    keeper.send({ ID: 808 }, '{"ID":"808"}', { ID: 999 }, { ID: "x" }, { ID: 808 });
    assert.deepEqual(await keeper.received(3), [{ result: { ID: "808", TTL: "90" } }, { result: { ID: "808", TTL: "90" } }, { result: { ID: "999" } }]);
    assert.equal(await keeper.closed(), 1006);
    assert.equal(keeper.messages.length, 3);
  });

  test("a unary call or a server stream answers, then drops the connection; /v3beta too", async () => {
    const revision = (await ok(app, "/v3/kv/put", { key: b64("u"), value: b64("x") })).header.revision as string;
    const range = await Client.open(app, "/v3beta/kv/range");
    range.send(`{"key":"${b64("u")}",`, '"keysOnly":true}');
    assert.deepEqual(await range.received(1), [{ kvs: [{ key: b64("u"), create_revision: revision, mod_revision: revision, version: "1" }], count: "1" }]);
    assert.equal(await range.closed(), 1006);
    const snapshot = await Client.open(app, "/v3/maintenance/snapshot");
    snapshot.send({});
    const [blob] = await snapshot.received(1);
    assert.deepEqual([...Buffer.from(blob?.result.blob, "base64")], [1, 2, 3]);
    assert.equal(await snapshot.closed(), 1006);
  });

  test("leader-only calls are not offered over a WebSocket (they are forwarded over HTTP only); the refused upgrade is closed", async () => {
    const socket = new WebSocket(`${urlOf(app).replace("http", "ws")}/v3/cluster/member/add`);
    // With a listener for it, `ws` leaves the refused request to the listener; the server must end the connection itself.
    const status = await new Promise<number>((resolve) => socket.once("unexpected-response", (_request, response) => resolve(response.statusCode ?? 0)));
    assert.equal(status, 404);
    const connections = (): Promise<number> =>
      new Promise((resolve, reject) => app.server.getConnections((error, count) => (error ? reject(error) : resolve(count))));
    await until("the server to end the connection", async () => (await connections()) === 0);
  });
});

describe("a WebSocket's watches", () => {
  let services: ServicesFixture;
  let app: FastifyInstance;
  let open = 0;
  before(async () => {
    services = await oneMemberServices();
    // The real services, with a count of the watches open at any moment.
    const kv = Object.create(services.kv) as MemberApis["kv"];
    kv.watch = async (request, deliver) => {
      const watch = await services.kv.watch(request, deliver);
      open++;
      return {
        cancel: () => {
          open--;
          watch.cancel();
        },
      };
    };
    app = await appWith(etcdGatewayPlugin({ ...services, kv }, services.auth));
  });
  after(async () => {
    await app.close();
    await services.close();
  });

  test("are canceled when the client cancels them and when it leaves, however it leaves", async () => {
    for (const leave of [(client: Client) => client.socket.close(1000), (client: Client) => client.socket.terminate()]) {
      const client = await Client.open(app, "/v3/watch");
      client.send({ create_request: { key: b64("a") } }, { create_request: { key: b64("b") } }, { create_request: { key: b64("c"), watch_id: 5 } });
      await client.received(3);
      assert.equal(open, 3);
      client.send({ cancel_request: { watch_id: 5 } });
      await client.received(4);
      assert.equal(open, 2);
      leave(client);
      await until("the watches to end", () => open === 0);
    }
  });
});

describe("the gateway's WebSocket with auth on", () => {
  let services: ServicesFixture;
  let app: FastifyInstance;
  let rootToken = "";
  before(async () => {
    services = await oneMemberServices();
    app = await appWith(etcdGatewayPlugin(services, services.auth));
    await ok(app, "/v3/auth/user/add", { name: "root", password: "pw" });
    await ok(app, "/v3/auth/role/add", { name: "root" });
    await ok(app, "/v3/auth/user/grant", { user: "root", role: "root" });
    await ok(app, "/v3/auth/enable");
    rootToken = (await ok(app, "/v3/auth/authenticate", { name: "root", password: "pw" })).token as string;
  });
  after(async () => {
    await app.close();
    await services.close();
  });

  const refusal = (code: string, message: string) => ({
    result: { watch_id: "-1", created: true, canceled: true, cancel_reason: `rpc error: code = ${code} desc = ${message}` },
  });

  test("the token comes from a `Bearer, <token>` subprotocol, answered `Bearer`, or a `token` cookie, which wins", async () => {
    const bySubprotocol = await Client.open(app, "/v3/watch", { protocols: ["Bearer", rootToken] });
    assert.equal(bySubprotocol.socket.protocol, "Bearer");
    bySubprotocol.send({ create_request: { key: b64("a") } });
    assert.deepEqual(await bySubprotocol.received(1), [{ result: { created: true } }]);
    bySubprotocol.socket.close();

    const byCookie = await Client.open(app, "/v3/watch", { protocols: ["Bearer", "forged.1"], headers: { cookie: `other=1; token=${rootToken}` } });
    byCookie.send({ create_request: { key: b64("a") } });
    assert.deepEqual(await byCookie.received(1), [{ result: { created: true } }]);
    byCookie.socket.close();
  });

  test("a bad token refuses each create inside the stream; the upgrade's own Authorization header is not read", async () => {
    const forged = await Client.open(app, "/v3/watch", { protocols: ["Bearer", "forged.1"] });
    forged.send({ create_request: { key: b64("a") } }, { create_request: { key: b64("b") } });
    const invalid = refusal("Unauthenticated", "etcdserver: invalid auth token");
    assert.deepEqual(await forged.received(2), [invalid, invalid]);
    forged.socket.close();

    const byHeader = await Client.open(app, "/v3/watch", { headers: { authorization: rootToken } });
    byHeader.send({ create_request: { key: b64("a") } });
    assert.deepEqual(await byHeader.received(1), [refusal("InvalidArgument", "etcdserver: user name is empty")]);
    byHeader.socket.close();

    const unary = await Client.open(app, "/v3/kv/range", { protocols: ["Bearer", "forged.1"] });
    unary.send({ key: b64("a") });
    assert.deepEqual((await unary.received(1))[0]?.message, "etcdserver: invalid auth token");
  });
});
