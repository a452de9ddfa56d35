/**
 * Every native /v1 route in-process, with fastify's inject(), against the
 * real services over a one-member stand-in for Raft: what each answers to a
 * good request, and the status and error body for a bad one.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { FastifyInstance, InjectOptions } from "fastify";
import { nativePlugin } from "../src/http/native/routes.js";
import { appWith, oneMemberServices, urlOf, type Json, type ServicesFixture } from "./support/services.js";

async function call(app: FastifyInstance, options: InjectOptions): Promise<{ status: number; json: Json; body: string; headers: Record<string, unknown> }> {
  const response = await app.inject(options);
  const isJson = String(response.headers["content-type"] ?? "").startsWith("application/json");
  return { status: response.statusCode, json: isJson ? (JSON.parse(response.body) as Json) : {}, body: response.body, headers: response.headers };
}

/**
 * The text of an SSE stream until `enough` holds; the client then leaves.
 * Over a socket, not inject(): a stream ends when its client leaves, which
 * only a closed connection tells the server.
 */
async function readSse(baseUrl: string, path: string, enough: (text: string) => boolean, meanwhile: () => Promise<unknown>): Promise<string> {
  const leave = new AbortController();
  const response = await fetch(`${baseUrl}${path}`, { signal: leave.signal });
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("content-type"), "text/event-stream");
  let text = "";
  let acted = false;
  try {
    for await (const chunk of response.body ?? []) {
      text += Buffer.from(chunk).toString();
      if (enough(text)) break;
      if (!acted) {
        acted = true;
        await meanwhile();
      }
    }
  } finally {
    leave.abort();
  }
  return text;
}

describe("native API routes", () => {
  let services: ServicesFixture;
  let app: FastifyInstance;
  let baseUrl: string;
  before(async () => {
    services = await oneMemberServices();
    app = await appWith(nativePlugin(services, services.auth));
    baseUrl = urlOf(app);
  });
  after(async () => {
    await app.close();
    await services.close();
  });

  test("keys: put, get raw, list a prefix, compare-and-set by revision, delete", async () => {
    const put = await call(app, { method: "PUT", url: "/v1/kv/app/a", payload: "hello" });
    assert.equal(put.status, 200);
    const revision = put.json.revision as number;
    const got = await call(app, { method: "GET", url: "/v1/kv/app/a" });
    assert.deepEqual([got.status, got.body, got.headers["x-raftkv-mod-revision"]], [200, "hello", String(revision)]);
    const listed = await call(app, { method: "GET", url: "/v1/kv/app/?prefix&encoding=base64" });
    assert.deepEqual(
      listed.json.kvs.map((kv: Json) => Buffer.from(kv.value, "base64").toString()),
      ["hello"],
    );
    const stale = await call(app, { method: "PUT", url: `/v1/kv/app/a?prev_revision=${revision - 1}`, payload: "lost" });
    assert.deepEqual([stale.status, stale.json.current_revision], [412, revision]);
    const swapped = await call(app, { method: "PUT", url: `/v1/kv/app/a?prev_revision=${revision}`, payload: "won" });
    assert.equal(swapped.status, 200);
    const deleted = await call(app, { method: "DELETE", url: "/v1/kv/app/?prefix" });
    assert.deepEqual([deleted.status, deleted.json.deleted], [200, 1]);
  });

  test("a watch is a stream of Server-Sent Events, with revisions as ids", async () => {
    const text = await readSse(
      baseUrl,
      "/v1/watch/watched",
      (seen) => seen.includes("event: put"),
      () => call(app, { method: "PUT", url: "/v1/kv/watched", payload: "now" }),
    );
    assert.match(text, /^: watching\n\n/);
    assert.match(text, /id: \d+\nevent: put\ndata: \{"key":"watched","value":"now"/);
  });

  test("locks: take one with a fresh lease, release it", async () => {
    const held = await call(app, { method: "POST", url: "/v1/locks/job?ttl=5" });
    assert.equal(held.status, 200);
    assert.match(held.json.key, /^job\//);
    const released = await call(app, { method: "DELETE", url: `/v1/locks/job?key=${encodeURIComponent(held.json.key)}` });
    assert.deepEqual([released.status, released.json.released], [200, true]);
  });

  test("services: register, heartbeat, list, watch, deregister", async () => {
    const registered = await call(app, { method: "POST", url: "/v1/services/web", payload: JSON.stringify({ id: "w1", address: "10.0.0.1", port: 80 }) });
    assert.deepEqual([registered.status, registered.json.id], [200, "w1"]);
    const beat = await call(app, { method: "PUT", url: "/v1/services/web/w1/heartbeat" });
    assert.deepEqual([beat.status, beat.json.lease], [200, registered.json.lease]);
    const listed = await call(app, { method: "GET", url: "/v1/services/web" });
    assert.deepEqual(
      listed.json.instances.map((instance: Json) => instance.address),
      ["10.0.0.1"],
    );
    const text = await readSse(
      baseUrl,
      "/v1/services/web?watch",
      (seen) => seen.includes("event: deregister"),
      async () => {
        const gone = await call(app, { method: "DELETE", url: "/v1/services/web/w1" });
        assert.deepEqual([gone.status, gone.json.deregistered], [200, true]);
      },
    );
    assert.match(text, /event: register\ndata: \{"id":"w1"/);
    assert.match(text, /event: deregister\ndata: \{"id":"w1"\}/);
  });

  test("a bad request gets a 4xx with an error body naming the problem", async () => {
    const cases: [options: InjectOptions, status: number, message: RegExp][] = [
      [{ method: "GET", url: "/v1/kv/" }, 400, /^etcdserver: key is not provided$/],
      [{ method: "GET", url: "/v1/kv/missing" }, 404, /^key not found$/],
      [{ method: "GET", url: "/v1/kv/a?revision=-1" }, 400, /^invalid request: /],
      [{ method: "PUT", url: "/v1/kv/a?lease=abc", payload: "x" }, 400, /^invalid request: /],
      [{ method: "PUT", url: "/v1/kv/a", payload: "x", headers: { "idempotency-key": "" } }, 400, /idempotency-key/],
      [{ method: "PUT", url: "/v1/kv/a?lease=999", payload: "x" }, 404, /^etcdserver: requested lease not found$/],
      [{ method: "DELETE", url: "/v1/kv/a?prefix&prev_revision=1" }, 400, /^prev_revision guards one key/],
      [{ method: "GET", url: "/v1/watch/a?revision=x" }, 400, /^invalid request: /],
      [{ method: "GET", url: "/v1/watch/a", headers: { "last-event-id": "abc" } }, 400, /^invalid request: /],
      [{ method: "POST", url: "/v1/locks/job?ttl=0" }, 400, /^invalid request: /],
      [{ method: "DELETE", url: "/v1/locks/job" }, 400, /^invalid request: /],
      [{ method: "POST", url: "/v1/services/web", payload: "not json" }, 400, /^invalid JSON body: /],
      [{ method: "POST", url: "/v1/services/web", payload: "{}" }, 400, /"address" must be a non-empty string/],
      [{ method: "PUT", url: "/v1/services/web/w9/heartbeat?lease=abc" }, 400, /^invalid request: /],
      [{ method: "DELETE", url: "/v1/services/web/nobody" }, 404, /./],
      [{ method: "GET", url: "/v1/services/web?watch=maybe" }, 400, /^invalid request: /],
    ];
    const mismatches: string[] = [];
    for (const [options, status, message] of cases) {
      const { status: got, json } = await call(app, options);
      const errorBody = typeof json.error === "string" && typeof json.code === "number" && message.test(json.message);
      if (got !== status || !errorBody) mismatches.push(`${options.method} ${options.url}: ${got} ${JSON.stringify(json)}`);
    }
    assert.deepEqual(mismatches, []);
  });
});
