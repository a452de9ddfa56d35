/**
 * How a plain-text HTTP/2 connection reaches grpc-js: as the socket itself
 * when its first request names a well-formed authority, through the filter
 * when the authority carries a scheme (etcdctl 3.4), and as the socket
 * itself when no request comes in time. Each way, the server answers the
 * request, and sees the authority without a scheme. The server here is Node's own
 * HTTP/2, given the connection as grpc-js's injector would be.
 */
import assert from "node:assert/strict";
import { connect as http2Connect, createServer as createHttp2Server, type ClientHttp2Session } from "node:http2";
import { createServer, Socket, type AddressInfo } from "node:net";
import { after, before, test } from "node:test";
import { handOverHttp2 } from "../src/grpc/authority.js";

const PREFACE_BYTES = 24;
const handedOver: string[] = [];
/** Resolved at the next hand-over. */
let nextHandOver: () => void = () => {};
let url = "";

const http2 = createHttp2Server((request, response) => response.end(request.headers[":authority"] ?? ""));
const listener = createServer((socket) => {
  socket.once("readable", function readPreface() {
    const preface = socket.read(PREFACE_BYTES) as Buffer | null;
    if (preface === null) return socket.once("readable", readPreface);
    handOverHttp2(socket, preface, (connection) => {
      handedOver.push(connection instanceof Socket ? "socket" : "filtered");
      nextHandOver();
      http2.emit("connection", connection);
    });
  });
});

before(async () => {
  await new Promise<void>((resolve) => listener.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(listener.address() as AddressInfo).port}`;
});
after(() => listener.close());

function ask(session: ClientHttp2Session, authority?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const request = session.request(authority === undefined ? {} : { ":authority": authority });
    let body = "";
    request.setEncoding("utf8");
    request.on("data", (chunk: string) => (body += chunk));
    request.on("end", () => resolve(body));
    request.on("error", reject);
    request.end();
  });
}

async function session<T>(use: (session: ClientHttp2Session) => Promise<T>): Promise<T> {
  const client = http2Connect(url);
  try {
    return await use(client);
  } finally {
    client.close();
  }
}

test("a well-formed authority: the socket itself, on Node's native stream", async () => {
  handedOver.length = 0;
  const host = new URL(url).host;
  assert.deepEqual(await session(async (client) => [await ask(client), await ask(client)]), [host, host]);
  assert.deepEqual(handedOver, ["socket"]);
});

test("an authority with a scheme, as etcdctl 3.4 sends it: filtered, the scheme taken out", async () => {
  handedOver.length = 0;
  const host = new URL(url).host;
  assert.deepEqual(await session(async (client) => [await ask(client, url), await ask(client, url)]), [host, host]);
  assert.deepEqual(handedOver, ["filtered"]);
});

test("a client that asks nothing for a while: the socket itself, and served when it asks", async () => {
  handedOver.length = 0;
  const host = new URL(url).host;
  const handOver = new Promise<void>((resolve) => (nextHandOver = resolve));
  const answer = await session(async (client) => {
    // Its connection is handed over once the member stops waiting for a first request.
    await handOver;
    return ask(client);
  });
  assert.equal(answer, host);
  assert.deepEqual(handedOver, ["socket"]);
});

test("a client still owing the acknowledgement of our SETTINGS when the wait ends: filtered, so that the acknowledgement is taken out", async () => {
  handedOver.length = 0;
  const handOver = new Promise<void>((resolve) => (nextHandOver = resolve));
  const { port } = new URL(url);
  const raw = new Socket();
  await new Promise<void>((resolve) => raw.connect(Number(port), "127.0.0.1", resolve));
  // The preface and an empty SETTINGS frame, and no acknowledgement of the server's.
  const settings = Buffer.from([0, 0, 0, 0x4, 0, 0, 0, 0, 0]);
  raw.write(Buffer.concat([Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), settings]));
  raw.on("error", () => undefined);
  await handOver;
  raw.destroy();
  assert.deepEqual(handedOver, ["filtered"]);
});
