/**
 * Bad input against a real cluster: each gets a clear 4xx with etcd's
 * message where the etcd API applies, and the cluster keeps serving with its
 * data intact.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { ProcessCluster, b64 } from "./support/process-cluster.js";

let cluster: ProcessCluster;
let url: string;

async function post(path: string, body: string): Promise<{ status: number; body: { error?: string; code?: number } }> {
  const response = await fetch(`${url}${path}`, { method: "POST", body, signal: AbortSignal.timeout(10_000) });
  return { status: response.status, body: (await response.json()) as { error?: string; code?: number } };
}

describe("bad input", () => {
  before(async () => {
    cluster = await ProcessCluster.start({ size: 3 });
    url = cluster.members[0]!.clientUrl;
    const put = await post("/v3/kv/put", JSON.stringify({ key: b64("kept"), value: b64("safe") }));
    assert.equal(put.status, 200);
  });
  after(async () => cluster?.stop());

  const cases: [string, string, string, number, RegExp][] = [
    ["malformed JSON", "/v3/kv/put", '{"key": "Zm9v", ', 400, /invalid JSON|JSON/],
    ["bad base64", "/v3/kv/put", JSON.stringify({ key: "not base64!!", value: b64("x") }), 400, /base64/],
    ["an empty key", "/v3/kv/put", JSON.stringify({ value: b64("x") }), 400, /^etcdserver: key is not provided$/],
    ["an unknown lease", "/v3/kv/put", JSON.stringify({ key: b64("k"), value: b64("v"), lease: "12345" }), 404, /^etcdserver: requested lease not found$/],
    [
      "a txn writing one key twice",
      "/v3/kv/txn",
      JSON.stringify({ success: [{ request_put: { key: b64("d"), value: b64("1") } }, { request_put: { key: b64("d"), value: b64("2") } }] }),
      400,
      /^etcdserver: duplicate key given in txn request$/,
    ],
    [
      "a future revision",
      "/v3/kv/range",
      JSON.stringify({ key: b64("kept"), revision: "999999" }),
      400,
      /^etcdserver: mvcc: required revision is a future revision$/,
    ],
  ];
  for (const [what, path, body, status, message] of cases) {
    test(`${what} is refused clearly`, async () => {
      const reply = await post(path, body);
      assert.equal(reply.status, status, JSON.stringify(reply.body));
      assert.match(reply.body.error ?? "", message);
    });
  }

  test("an oversized value is refused with etcd's message", async () => {
    const reply = await post("/v3/kv/put", JSON.stringify({ key: b64("big"), value: Buffer.alloc(2 * 1024 * 1024, 1).toString("base64") }));
    assert.equal(reply.status, 400);
    assert.equal(reply.body.error, "etcdserver: request is too large");
  });

  test("a read below the compacted revision is refused with etcd's message", async () => {
    const first = await post("/v3/kv/put", JSON.stringify({ key: b64("c"), value: b64("1") }));
    assert.equal(first.status, 200);
    const second = await post("/v3/kv/put", JSON.stringify({ key: b64("c"), value: b64("2") }));
    const revision = Number((second.body as { header?: { revision: string } }).header?.revision);
    assert.equal((await post("/v3/kv/compaction", JSON.stringify({ revision }))).status, 200);
    const reply = await post("/v3/kv/range", JSON.stringify({ key: b64("c"), revision: revision - 1 }));
    assert.equal(reply.status, 400);
    assert.equal(reply.body.error, "etcdserver: mvcc: required revision has been compacted");
  });

  test("after all of it, every member still serves the data", async () => {
    for (const member of cluster.members) {
      const response = await fetch(`${member.clientUrl}/v1/kv/kept`);
      assert.equal(await response.text(), "safe");
    }
  });
});
