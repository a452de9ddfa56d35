/**
 * A member that answers etcd's 'no leader' (Unavailable, HTTP 503) is
 * passed over: the client asks the next member, and the caller gets that
 * member's answer.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { after, test } from "node:test";
import { Client } from "../src/index.js";

const servers: Server[] = [];
after(() => {
  for (const server of servers) server.close();
});

async function member(answer: (request: IncomingMessage, response: ServerResponse) => void): Promise<{ url: string; asked: string[] }> {
  const asked: string[] = [];
  const server = createServer((request, response) => {
    asked.push(request.url ?? "");
    request.resume().on("end", () => answer(request, response));
  });
  servers.push(server);
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, asked };
}

const json = (response: ServerResponse, status: number, body: object) =>
  response.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
const HEADER = { cluster_id: "1", member_id: "2", revision: "7", raft_term: "3" };

test("a linearizable read answered 'no leader' is asked of the next member", async () => {
  const leaderless = await member((_request, response) => json(response, 503, { error: "etcdserver: no leader", code: 14, message: "etcdserver: no leader" }));
  const serving = await member((_request, response) =>
    json(response, 200, {
      header: HEADER,
      kvs: [{ key: Buffer.from("k").toString("base64"), value: Buffer.from("v").toString("base64"), mod_revision: "7", create_revision: "7", version: "1" }],
      count: "1",
    }),
  );
  const client = new Client({ endpoints: [leaderless.url, serving.url] });
  try {
    const kv = await client.kv.getOne("k");
    assert.equal(Buffer.from(kv?.value ?? []).toString(), "v");
    assert.deepEqual(leaderless.asked, ["/v3/kv/range"], "the member without a leader was asked first");
    assert.deepEqual(serving.asked, ["/v3/kv/range"]);
  } finally {
    await client.close();
  }
});
