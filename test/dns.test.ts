/**
 * DNS for service discovery on a real 3-member cluster, asked with Debian's
 * `dig` and with Node's own resolver: every member answers A and SRV for
 * registered instances; a deregistered instance and one whose TTL lapsed
 * leave the answers; a member cut off from its peers answers from its own
 * state within --dns-max-stale and SERVFAIL past it; thousands of fuzzed
 * packets leave every member answering. Skipped with a note without dig.
 */
import assert from "node:assert/strict";
import { execFile, spawnSync } from "node:child_process";
import { createSocket } from "node:dgram";
import { Resolver } from "node:dns/promises";
import { connect } from "node:net";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { Client, ServiceRegistry } from "@raftkv/client";
import dnsPacket from "dns-packet";
import { ProcessCluster, freePort, waitFor, type ClusterMember } from "./support/process-cluster.js";

const digInstalled = spawnSync("dig", ["-v"], { stdio: "ignore" }).status === 0;
const MAX_STALE_MS = 3_000;
const LAPSING_TTL_SECONDS = 3;

interface DigAnswer {
  readonly status: string;
  /** The answer section's data fields: "10.0.0.1", or "1 1 9001 7f000001.addr.raftkv." for SRV. */
  readonly records: string[];
}

async function dig(port: number, name: string, type: string): Promise<DigAnswer> {
  const { stdout } = await promisify(execFile)("dig", [`@127.0.0.1`, "-p", String(port), name, type, "+noall", "+comments", "+answer", "+tries=1", "+time=3"]);
  const status = /status: ([A-Z]+)/.exec(stdout)?.[1] ?? "no answer";
  const records = stdout
    .split("\n")
    .filter((line) => line.trim() !== "" && !line.startsWith(";"))
    .map((line) => line.trim().split(/\s+/).slice(4).join(" "));
  return { status, records };
}

function resolverFor(port: number): Resolver {
  const resolver = new Resolver({ timeout: 3_000, tries: 1 });
  resolver.setServers([`127.0.0.1:${port}`]);
  return resolver;
}

/** What a member answers for the service, by dig and by Node, as sorted "address" and "port" lists; or the rcode. */
async function answersOf(port: number, name: string): Promise<string> {
  const [a, srv] = [await dig(port, name, "A"), await dig(port, name, "SRV")];
  if (a.status !== "NOERROR" || srv.status !== "NOERROR") return `${a.status}/${srv.status}`;
  const node = resolverFor(port);
  const [nodeA, nodeSrv] = [await node.resolve4(name), await node.resolveSrv(name)];
  const digView = `A ${[...a.records].sort().join(",")} SRV ${srv.records
    .map((record) => record.split(" ")[2])
    .sort()
    .join(",")}`;
  const nodeView = `A ${[...nodeA].sort().join(",")} SRV ${nodeSrv
    .map((record) => String(record.port))
    .sort()
    .join(",")}`;
  assert.equal(nodeView, digView, "Node's resolver and dig agree");
  return digView;
}

async function post(member: ClusterMember, path: string, body: unknown, method = "POST"): Promise<void> {
  const response = await fetch(`${member.clientUrl}${path}`, { method, body: body === undefined ? undefined : JSON.stringify(body) });
  assert.equal(response.status, 200, await response.text());
}

describe("DNS on a real cluster", { skip: digInstalled ? false : "dig (Debian's dnsutils) is not installed" }, () => {
  const dnsPorts = new Map<string, number>();
  let cluster: ProcessCluster;
  const dnsPort = (member: ClusterMember): number => dnsPorts.get(member.name)!;

  before(async () => {
    cluster = await ProcessCluster.start({
      size: 3,
      memberFlags: async (name) => {
        const port = await freePort();
        dnsPorts.set(name, port);
        return [`--dns-addr=127.0.0.1:${port}`, "--dns-ttl=1s", `--dns-max-stale=${MAX_STALE_MS}ms`];
      },
    });
  });
  after(async () => {
    for (const member of cluster?.members ?? []) member.process?.kill("SIGCONT");
    await cluster?.stop();
  });

  test("every member answers A and SRV; a deregistered instance and a lapsed one leave the answers", async () => {
    const [first] = cluster.members;
    assert.ok(first);
    await post(first, "/v1/services/web", { id: "a", address: "127.0.0.1", port: 9001, ttl: 60 });
    await post(first, "/v1/services/web", { id: "b", address: "127.0.0.2", port: 9002, ttl: 60 });
    await post(first, "/v1/services/web", { id: "c", address: "127.0.0.3", port: 9003, ttl: LAPSING_TTL_SECONDS });
    const all = "A 127.0.0.1,127.0.0.2,127.0.0.3 SRV 9001,9002,9003";
    for (const member of cluster.members) {
      await waitFor(`${member.name} to answer for three instances`, async () => (await answersOf(dnsPort(member), "web.service.raftkv")) === all, 10_000);
    }

    // b deregisters; c stops heartbeating and its lease lapses after its TTL.
    const changedAt = Date.now();
    await post(first, "/v1/services/web/b", undefined, "DELETE");
    for (const member of cluster.members) {
      await waitFor(
        `${member.name} to answer for a alone`,
        async () => (await answersOf(dnsPort(member), "web.service.raftkv")) === "A 127.0.0.1 SRV 9001",
        20_000,
      );
    }
    // The lease TTL, the DNS TTL (1 s) and the leader's expiry check, with room for a loaded machine.
    const goneAfterMs = Date.now() - changedAt;
    assert.ok(goneAfterMs < (LAPSING_TTL_SECONDS + 1) * 1_000 + 5_000, `gone after ${goneAfterMs} ms`);
  });

  test("tags: registered by the client or over HTTP, listed by /v1/services, and a DNS name of their own", async () => {
    const client = new Client({ endpoints: cluster.members.map((member) => member.clientUrl) });
    const registration = await new ServiceRegistry(client).register("db", { id: "db-1", address: "127.0.0.11", port: 5432, tags: ["primary"] }, { ttl: 30 });
    try {
      await post(cluster.members[1]!, "/v1/services/db", { id: "db-2", address: "127.0.0.12", port: 5432, tags: ["replica"], ttl: 30 });
      const listing = (await (await fetch(`${cluster.members[2]!.clientUrl}/v1/services/db`)).json()) as { instances: { id: string; tags?: string[] }[] };
      assert.deepEqual(
        listing.instances.map(({ id, tags }) => [id, tags]),
        [
          ["db-1", ["primary"]],
          ["db-2", ["replica"]],
        ],
      );
      for (const member of cluster.members) {
        await waitFor(
          `${member.name} to answer by tag`,
          async () => (await answersOf(dnsPort(member), "primary.db.service.raftkv")) === "A 127.0.0.11 SRV 5432",
        );
        assert.equal(await answersOf(dnsPort(member), "replica.db.service.raftkv"), "A 127.0.0.12 SRV 5432");
        assert.deepEqual((await dig(dnsPort(member), "_db._replica.service.raftkv", "SRV")).records, ["1 1 5432 7f00000c.addr.raftkv."]);
        assert.equal((await dig(dnsPort(member), "canary.db.service.raftkv", "A")).status, "NXDOMAIN");
      }
    } finally {
      await registration.deregister();
      await client.close();
    }
  });

  test("a member cut off from its peers answers from its own state, then SERVFAIL past --dns-max-stale, and recovers", async () => {
    await post(cluster.members[0]!, "/v1/services/api", { id: "x", address: "127.0.0.9", port: 9009, ttl: 60 });
    const leader = await cluster.waitForLeader();
    const cutOff = cluster.members.find((member) => member !== leader)!;
    const port = dnsPort(cutOff);
    await waitFor(`${cutOff.name} to know the instance`, async () => (await answersOf(port, "api.service.raftkv")) === "A 127.0.0.9 SRV 9009");
    const peers = cluster.members.filter((member) => member !== cutOff);
    for (const peer of peers) peer.process?.kill("SIGSTOP");
    const stoppedAt = Date.now();
    try {
      const within = await dig(port, "api.service.raftkv", "A");
      const askedAfterMs = Date.now() - stoppedAt;
      // Contact was last made a little before the stop; half the bound leaves room for a loaded machine.
      if (askedAfterMs < MAX_STALE_MS / 2) assert.deepEqual(within, { status: "NOERROR", records: ["127.0.0.9"] });
      const servfail = await waitFor("SERVFAIL past the staleness bound", async () => {
        const answer = await dig(port, "api.service.raftkv", "A");
        return answer.status === "SERVFAIL" && Date.now() - stoppedAt;
      });
      assert.ok(servfail >= MAX_STALE_MS / 2, `SERVFAIL ${servfail} ms after the peers stopped, before the ${MAX_STALE_MS} ms bound`);
      await assert.rejects(resolverFor(port).resolve4("api.service.raftkv"), { code: "ESERVFAIL" });
    } finally {
      for (const peer of peers) peer.process?.kill("SIGCONT");
    }
    await waitFor(`${cutOff.name} to answer again once its peers are back`, async () => (await dig(port, "api.service.raftkv", "A")).status === "NOERROR");
  });

  test("thousands of fuzzed packets, over UDP and TCP, leave every member answering", async () => {
    const random = seededRandom(0x5eed);
    const valid = ["web.service.raftkv", "_web._tcp.service.raftkv", "primary.web.service.raftkv", "example.com", "7f000001.addr.raftkv"].flatMap((name) =>
      (["A", "AAAA", "SRV", "TXT"] as const).map((type) => dnsPacket.encode({ type: "query", id: 1, questions: [{ name, type }] })),
    );
    const fuzzed = Array.from({ length: 3_000 }, (_, i) => mutate(valid[i % valid.length]!, random));
    for (const member of cluster.members) {
      await sendUdp(dnsPort(member), fuzzed);
      await sendTcp(dnsPort(member), fuzzed.slice(0, 300));
    }
    for (const member of cluster.members) {
      assert.ok(member.process, `${member.name} is still running`);
      await waitFor(`${member.name} to answer after the fuzzing`, async () => (await dig(dnsPort(member), "web.service.raftkv", "A")).status === "NOERROR");
      const counted = await queriesCounted(member);
      assert.ok(
        (counted.get("udp FORMERR") ?? 0) > 0 && (counted.get("udp NOERROR") ?? 0) > 0 && (counted.get("tcp FORMERR") ?? 0) > 0,
        JSON.stringify([...counted]),
      );
      // Every packet read is counted once, answered or dropped (the barrier queries come on top).
      const udpTotal = [...counted].filter(([key]) => key.startsWith("udp")).reduce((sum, [, value]) => sum + value, 0);
      assert.ok(udpTotal >= fuzzed.length, `${member.name} counted ${udpTotal} of ${fuzzed.length} packets`);
    }
  });
});

/** raftkv_dns_queries_total by "transport result", from the member's /metrics. */
async function queriesCounted(member: ClusterMember): Promise<Map<string, number>> {
  const text = await (await fetch(`${member.clientUrl}/metrics`)).text();
  const counted = new Map<string, number>();
  for (const [, transport, result, value] of text.matchAll(/^raftkv_dns_queries_total\{transport="(\w+)",result="(\w+)"\} (\d+)$/gm)) {
    counted.set(`${transport} ${result}`, Number(value));
  }
  return counted;
}

/** A small deterministic generator (mulberry32), so a failing run replays. */
function seededRandom(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A valid query with some bytes changed, cut short, or grown; or plain noise. */
function mutate(query: Buffer, random: () => number): Buffer {
  const pick = random();
  if (pick < 0.1) return Buffer.from(Array.from({ length: Math.floor(random() * 600) }, () => Math.floor(random() * 256)));
  const bytes = Buffer.from(query);
  for (let flips = 1 + Math.floor(random() * 4); flips > 0; flips--) bytes[Math.floor(random() * bytes.length)] = Math.floor(random() * 256);
  if (pick < 0.4) return bytes.subarray(0, Math.floor(random() * bytes.length));
  if (pick < 0.6) return Buffer.concat([bytes, Buffer.from(Array.from({ length: Math.floor(random() * 64) }, () => Math.floor(random() * 256)))]);
  return bytes;
}

/**
 * Sends the packets in batches of 50, each followed by a valid query whose
 * answer shows the member has read the batch, so that neither the socket's
 * buffer nor a loaded machine loses any of them on the way.
 */
async function sendUdp(port: number, packets: readonly Buffer[]): Promise<void> {
  const socket = createSocket("udp4");
  const answered = new Set<number>();
  socket.on("message", (reply: Buffer) => answered.add(reply.readUInt16BE(0)));
  try {
    for (let start = 0, batch = 0; start < packets.length; start += 50, batch++) {
      for (const packet of packets.slice(start, start + 50)) socket.send(packet, port, "127.0.0.1");
      const barrierId = 0xf000 + batch;
      const barrier = dnsPacket.encode({ type: "query", id: barrierId, questions: [{ name: "web.service.raftkv", type: "A" }] });
      await waitFor(`the answer to barrier query ${batch}`, async () => {
        if (answered.has(barrierId)) return true;
        socket.send(barrier, port, "127.0.0.1");
        await new Promise((resolve) => setTimeout(resolve, 200));
        return answered.has(barrierId);
      });
    }
  } finally {
    socket.close();
  }
}

/** Sends the packets as TCP frames on one connection, until the member answers them all or closes it. */
async function sendTcp(port: number, packets: readonly Buffer[]): Promise<void> {
  const socket = connect(port, "127.0.0.1");
  await new Promise<void>((resolve) => {
    socket.on("error", () => resolve());
    socket.on("close", () => resolve());
    socket.on("connect", () => {
      for (const packet of packets) {
        const prefix = Buffer.alloc(2);
        prefix.writeUInt16BE(packet.length);
        socket.write(Buffer.concat([prefix, packet]));
      }
      socket.end();
    });
    socket.resume();
  });
  socket.destroy();
}
