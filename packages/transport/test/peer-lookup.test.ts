/**
 * Peer names resolve from the hosts file, then from DNS on the event loop;
 * a DNS server that never answers ends a lookup by its deadline. The DNS
 * server here is a real UDP socket speaking the wire format.
 */
import assert from "node:assert/strict";
import { createSocket, type Socket } from "node:dgram";
import { mkdtemp, writeFile } from "node:fs/promises";
import { connect, createServer, type AddressInfo, type LookupFunction } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import * as packet from "dns-packet";
import { peerLookup } from "../src/peer-lookup.js";

/** Answers A queries for the names it holds; stays silent for any other, as Docker's DNS does for a stopped container. */
async function fakeDns(records: Readonly<Record<string, string>>): Promise<{ socket: Socket; server: string }> {
  const socket = createSocket("udp4");
  socket.on("message", (message, from) => {
    const query = packet.decode(message);
    const question = query.questions?.[0];
    if (question === undefined || records[question.name] === undefined) return;
    const answers = question.type === "A" ? [{ type: "A" as const, name: question.name, ttl: 5, data: records[question.name]! }] : [];
    const reply = packet.encode({ id: query.id, type: "response", flags: packet.RECURSION_DESIRED, questions: [question], answers });
    socket.send(reply, from.port, from.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
  return { socket, server: `127.0.0.1:${(socket.address() as AddressInfo).port}` };
}

function lookupOne(lookup: LookupFunction, hostname: string): Promise<string> {
  return new Promise((resolve, reject) => {
    lookup(hostname, {}, (error, address) => (error ? reject(error) : resolve(address as string)));
  });
}

describe("peer lookup", () => {
  let dns: { socket: Socket; server: string };
  let hostsFile: string;

  before(async () => {
    dns = await fakeDns({ "peer.example": "127.0.0.1" });
    hostsFile = join(await mkdtemp(join(tmpdir(), "raftkv-lookup-")), "hosts");
    await writeFile(hostsFile, "# a comment\n127.0.0.7   listed.example  other   # trailing\n::1 six.example\n");
  });
  after(() => dns.socket.close());

  test("a name in the hosts file is answered from it, before DNS", async () => {
    const lookup = peerLookup({ hostsFile, servers: [dns.server] });
    assert.equal(await lookupOne(lookup, "LISTED.example"), "127.0.0.7");
    assert.equal(await lookupOne(lookup, "six.example"), "::1");
  });

  test("a name DNS knows is answered by it, and net.connect reaches the address", async () => {
    const lookup = peerLookup({ hostsFile, servers: [dns.server] });
    assert.equal(await lookupOne(lookup, "peer.example"), "127.0.0.1");
    const server = createServer((socket) => socket.end("hello"));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const port = (server.address() as AddressInfo).port;
      const greeting = await new Promise<string>((resolve, reject) => {
        const socket = connect({ host: "peer.example", port, lookup });
        socket.on("data", (data) => resolve(data.toString()));
        socket.on("error", reject);
      });
      assert.equal(greeting, "hello");
    } finally {
      server.close();
    }
  });

  test("a name nobody answers for fails with a timeout instead of holding a thread", async () => {
    const lookup = peerLookup({ hostsFile, servers: [dns.server], queryTimeoutMs: 100 });
    await assert.rejects(lookupOne(lookup, "stopped.example"), { code: "ETIMEOUT" });
  });

  test("a name DNS says has no address is not found", async () => {
    const refusing = await fakeDns({});
    refusing.socket.removeAllListeners("message");
    refusing.socket.on("message", (message, from) => {
      const query = packet.decode(message);
      const reply = packet.encode({ id: query.id, type: "response", flags: packet.RECURSION_DESIRED | 3, questions: query.questions ?? [] });
      refusing.socket.send(reply, from.port, from.address);
    });
    try {
      await assert.rejects(lookupOne(peerLookup({ hostsFile, servers: [refusing.server] }), "gone.example"), { code: "ENOTFOUND" });
    } finally {
      refusing.socket.close();
    }
  });
});
