/** DNS for the service registry, in process: names, answers, staleness, and the UDP and TCP listeners. */
import assert from "node:assert/strict";
import { createSocket } from "node:dgram";
import { setTimeout as delay } from "node:timers/promises";
import { isDeepStrictEqual } from "node:util";
import { type AddressInfo, connect, createServer } from "node:net";
import { once } from "node:events";
import { describe, test } from "node:test";
import dnsPacket, { type Answer, type DecodedPacket, type Packet, type RecordType } from "dns-packet";
import pino from "pino";
import { Registry } from "prom-client";
import type { KvApi, RangeRequest, RangeResponse } from "../src/kv/api.js";
import type { Instance } from "../src/recipes/services.js";
import { LeaderContact } from "../src/dns/leader-contact.js";
import { addressName, domainLabels, lookupOf } from "../src/dns/names.js";
import { NoFreshAnswer, RegistryReader } from "../src/dns/registry-reader.js";
import { DnsResponder, type InstanceSource, type Transport } from "../src/dns/responder.js";
import { DnsServer } from "../src/dns/server.js";

const DOMAIN = domainLabels("raftkv.");
const ZONE = { domain: DOMAIN, ttl: 5 };

const instance = (id: string, address: string, fields: Partial<Instance> = {}): Instance => ({ id, address, port: 8080, lease: 1, ...fields });

const WEB: readonly Instance[] = [
  instance("web-1", "10.0.0.1", { port: 8081, tags: ["primary"] }),
  instance("web-2", "10.0.0.2", { port: 8082 }),
  instance("web-6", "fd00::6", { port: 8086, tags: ["primary"] }),
  instance("web-h", "web-h.example.com", { port: 8088 }),
];

/** A registry of fixed instances; a service named "broken" cannot be read. */
class FixedSource implements InstanceSource {
  constructor(private readonly services: Readonly<Record<string, readonly Instance[]>>) {}

  async instances(service: string): Promise<readonly Instance[]> {
    if (service === "broken") throw new NoFreshAnswer("no leader");
    return this.services[service] ?? [];
  }
}

function query(name: string, type: RecordType, fields: Partial<Packet> = {}): Buffer {
  return dnsPacket.encode({ type: "query", id: 4242, flags: dnsPacket.RECURSION_DESIRED, questions: [{ name, type, class: "IN" }], ...fields });
}

async function ask(responder: DnsResponder, message: Buffer, transport: Transport = "udp"): Promise<DecodedPacket & { rcode?: string }> {
  const reply = await responder.respond(message, transport);
  assert.ok(reply.message, `an answer (got ${reply.result})`);
  return dnsPacket.decode(reply.message) as DecodedPacket & { rcode?: string };
}

const dataOf = (answers: readonly Answer[] | undefined): unknown[] => (answers ?? []).map((answer) => ("data" in answer ? answer.data : undefined));

describe("names under the domain", () => {
  const cases: [string, ReturnType<typeof lookupOf>][] = [
    ["web.service.raftkv", { kind: "service", service: "web", tag: undefined }],
    ["web.service.raftkv.", { kind: "service", service: "web", tag: undefined }],
    ["Web.SERVICE.RaftKV", { kind: "service", service: "Web", tag: undefined }],
    ["primary.web.service.raftkv", { kind: "service", service: "web", tag: "primary" }],
    ["_web._tcp.service.raftkv", { kind: "service", service: "web", tag: undefined }],
    ["_web._primary.service.raftkv", { kind: "service", service: "web", tag: "primary" }],
    ["0a000001.addr.raftkv", { kind: "address", address: "10.0.0.1" }],
    ["fd000000000000000000000000000006.addr.raftkv", { kind: "address", address: "fd00:0000:0000:0000:0000:0000:0000:0006" }],
    ["raftkv", { kind: "apex" }],
    ["web.node.raftkv", { kind: "unknown" }],
    ["a.b.web.service.raftkv", { kind: "unknown" }],
    ["xyz.addr.raftkv", { kind: "unknown" }],
    ["web.service.consul", { kind: "outside" }],
    ["example.com", { kind: "outside" }],
    ["", { kind: "outside" }],
  ];
  for (const [name, expected] of cases) {
    test(`${JSON.stringify(name)}: ${expected.kind}`, () => assert.deepEqual(lookupOf(name, DOMAIN), expected));
  }

  test("an IP address's name spells it in hex, IPv6 expanded", () => {
    assert.equal(addressName("127.0.0.1", DOMAIN), "7f000001.addr.raftkv");
    assert.equal(addressName("fd00::6", DOMAIN), "fd000000000000000000000000000006.addr.raftkv");
    assert.equal(addressName("::ffff:10.0.0.1", DOMAIN), "00000000000000000000ffff0a000001.addr.raftkv");
  });
});

describe("answers", () => {
  const responder = (): DnsResponder => new DnsResponder(ZONE, new FixedSource({ web: WEB, bare: [instance("b", "10.0.0.9", { port: undefined })] }));

  test("A: the IPv4 instances, authoritative, with the TTL, the question and id echoed", async () => {
    const reply = await ask(responder(), query("web.service.raftkv", "A"));
    assert.equal(reply.id, 4242);
    assert.equal(reply.rcode, "NOERROR");
    assert.ok(reply.flag_aa && reply.flag_rd && !reply.flag_tc);
    assert.deepEqual(reply.questions, [{ name: "web.service.raftkv", type: "A", class: "IN" }]);
    assert.deepEqual(new Set(dataOf(reply.answers)), new Set(["10.0.0.1", "10.0.0.2"]));
    assert.ok(reply.answers?.every((answer) => answer.type === "A" && answer.ttl === 5 && answer.name === "web.service.raftkv"));
  });

  test("AAAA: the IPv6 instances", async () => {
    const reply = await ask(responder(), query("web.service.raftkv", "AAAA"));
    assert.deepEqual(dataOf(reply.answers), ["fd00::6"]);
  });

  test("SRV: every instance with a port, IP targets by their addr name with its address in the additional section", async () => {
    for (const name of ["web.service.raftkv", "_web._tcp.service.raftkv"]) {
      const reply = await ask(responder(), query(name, "SRV"));
      const srv = dataOf(reply.answers) as { port: number; target: string }[];
      assert.deepEqual(
        new Set(srv.map(({ port, target }) => `${target}:${port}`)),
        new Set(["0a000001.addr.raftkv:8081", "0a000002.addr.raftkv:8082", "fd000000000000000000000000000006.addr.raftkv:8086", "web-h.example.com:8088"]),
      );
      const glue = new Map((reply.additionals ?? []).map((record) => [record.name, `${record.type} ${"data" in record ? String(record.data) : ""}`]));
      assert.deepEqual(
        glue,
        new Map([
          ["0a000001.addr.raftkv", "A 10.0.0.1"],
          ["0a000002.addr.raftkv", "A 10.0.0.2"],
          ["fd000000000000000000000000000006.addr.raftkv", "AAAA fd00::6"],
        ]),
      );
    }
  });

  test("an instance whose address is neither an IP nor a plain host name gets no SRV record", async () => {
    const odd = new DnsResponder(ZONE, new FixedSource({ odd: [instance("x", "not a host", { port: 1 }), instance("y", "y.example", { port: 2 })] }));
    assert.deepEqual(dataOf((await ask(odd, query("odd.service.raftkv", "SRV"))).answers), [{ priority: 1, weight: 1, port: 2, target: "y.example" }]);
  });

  test("a target's addr name answers with its address", async () => {
    assert.deepEqual(dataOf((await ask(responder(), query("0a000002.addr.raftkv", "A"))).answers), ["10.0.0.2"]);
  });

  test("a tag keeps only the instances that carry it, in both spellings", async () => {
    assert.deepEqual(dataOf((await ask(responder(), query("primary.web.service.raftkv", "A"))).answers), ["10.0.0.1"]);
    const srv = await ask(responder(), query("_web._primary.service.raftkv", "SRV"));
    assert.deepEqual((dataOf(srv.answers) as { port: number }[]).map(({ port }) => port).sort(), [8081, 8086]);
    assert.equal((await ask(responder(), query("canary.web.service.raftkv", "A"))).rcode, "NXDOMAIN");
  });

  test("round-robin: successive answers lead with each instance in turn", async () => {
    const dns = responder();
    const firsts = [];
    for (let i = 0; i < 4; i++) firsts.push(dataOf((await ask(dns, query("web.service.raftkv", "SRV"))).answers)[0]);
    assert.equal(new Set(firsts.map((first) => JSON.stringify(first))).size, 4);
  });

  test("NXDOMAIN with the zone's SOA for a service without instances and for names that mean nothing", async () => {
    for (const name of ["db.service.raftkv", "web.node.raftkv", "x.y.z.raftkv"]) {
      const reply = await ask(responder(), query(name, "A"));
      assert.equal(reply.rcode, "NXDOMAIN", name);
      assert.deepEqual(reply.answers, []);
      assert.deepEqual(
        reply.authorities?.map((record) => [record.type, record.name]),
        [["SOA", "raftkv"]],
      );
    }
  });

  test("a known name without records of the type asked: NOERROR and no answers (NODATA)", async () => {
    assert.deepEqual(
      [(await ask(responder(), query("web.service.raftkv", "MX"))).rcode, (await ask(responder(), query("web.service.raftkv", "MX"))).answers],
      ["NOERROR", []],
    );
    const noPorts = await ask(responder(), query("bare.service.raftkv", "SRV"));
    assert.deepEqual([noPorts.rcode, noPorts.answers], ["NOERROR", []]);
    const apex = await ask(responder(), query("raftkv", "SOA"));
    assert.deepEqual(
      apex.answers?.map((record) => record.type),
      ["SOA"],
    );
  });

  test("REFUSED outside the domain and for other classes", async () => {
    assert.equal((await ask(responder(), query("example.com", "A"))).rcode, "REFUSED");
    const chaos = dnsPacket.encode({ type: "query", id: 1, questions: [{ name: "web.service.raftkv", type: "TXT", class: "CH" }] });
    assert.equal((await ask(responder(), chaos)).rcode, "REFUSED");
  });

  test("SERVFAIL when the registry cannot be read", async () => {
    assert.equal((await ask(responder(), query("broken.service.raftkv", "A"))).rcode, "SERVFAIL");
  });

  test("malformed messages: FORMERR when a header can be read, dropped when not, dropped if a response; NOTIMP for other opcodes", async () => {
    const garbage = Buffer.from([0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0x3f, 0x41]);
    const formerr = await ask(responder(), garbage);
    assert.deepEqual([formerr.id, formerr.rcode, formerr.questions], [0x1234, "FORMERR", []]);
    const twoQuestions = dnsPacket.encode({
      type: "query",
      id: 7,
      questions: [
        { name: "a.service.raftkv", type: "A" },
        { name: "b.service.raftkv", type: "A" },
      ],
    });
    assert.equal((await ask(responder(), twoQuestions)).rcode, "FORMERR");
    const longLabel = Buffer.from(query("web.service.raftkv", "A"));
    longLabel[12] = 0x3f; // the first label claims 63 bytes, running past the end
    assert.equal((await ask(responder(), longLabel)).rcode, "FORMERR");
    const dotInLabel = Buffer.from(query("web.service.raftkv", "A"));
    dotInLabel[14] = 0x2e; // "w.b": a name that would not encode back as it came
    assert.equal((await ask(responder(), dotInLabel)).rcode, "FORMERR");
    assert.deepEqual(await responder().respond(Buffer.from([1, 2, 3]), "udp"), { result: "dropped" });
    const response = dnsPacket.encode({ type: "response", id: 9, questions: [{ name: "web.service.raftkv", type: "A" }] });
    assert.deepEqual(await responder().respond(response, "udp"), { result: "dropped" });
    const update = Buffer.from(query("web.service.raftkv", "A"));
    update[2] = (5 << 3) | (update[2]! & 0x07); // opcode UPDATE
    assert.equal((await ask(responder(), update)).rcode, "NOTIMP");
  });
});

describe("truncation", () => {
  const many = Array.from({ length: 60 }, (_, i) => instance(`i${i}`, `10.1.${Math.floor(i / 250)}.${(i % 250) + 1}`, { port: 9000 + i }));
  const responder = (): DnsResponder => new DnsResponder(ZONE, new FixedSource({ big: many }));

  test("over UDP an answer beyond 512 bytes keeps what fits, drops the additional section and sets TC; over TCP it is whole", async () => {
    const dns = responder();
    const udp = await dns.respond(query("big.service.raftkv", "SRV"), "udp");
    assert.ok(udp.message && udp.message.length <= 512, `${udp.message?.length} bytes`);
    const truncated = dnsPacket.decode(udp.message);
    assert.ok(truncated.flag_tc);
    assert.ok((truncated.answers?.length ?? 0) > 0 && (truncated.answers?.length ?? 0) < 60);
    assert.deepEqual(truncated.additionals, []);
    const whole = await ask(dns, query("big.service.raftkv", "SRV"), "tcp");
    assert.ok(!whole.flag_tc);
    assert.equal(whole.answers?.length, 60);
    assert.equal(whole.additionals?.length, 60);
  });

  test("an EDNS query that takes 4096 bytes gets the whole answer over UDP, with an OPT record of ours", async () => {
    const edns = query("big.service.raftkv", "A", {
      additionals: [{ type: "OPT", name: ".", udpPayloadSize: 4096, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] }],
    });
    const reply = await ask(responder(), edns);
    assert.ok(!reply.flag_tc);
    assert.equal(reply.answers?.length, 60);
    assert.deepEqual(
      reply.additionals?.map((record) => record.type),
      ["OPT"],
    );
  });
});

describe("staleness", () => {
  test("the leader is in touch; a follower as recently as it heard from the leader it last knew; never: out of touch", () => {
    let now = 10_000;
    let leader = 0;
    const heard = new Map<number, number>();
    const contact = new LeaderContact({ self: 1, leader: () => leader, lastHeardAt: (peer) => heard.get(peer) }, () => now);
    assert.equal(contact.ageMs(), Infinity);
    leader = 2;
    heard.set(2, 9_700);
    assert.equal(contact.ageMs(), 300);
    leader = 0; // an election: the old leader is still the last one heard
    now = 12_000;
    assert.equal(contact.ageMs(), 2_300);
    assert.equal(contact.hasLeader(), false);
    leader = 1;
    assert.equal(contact.ageMs(), 0);
    now = 20_000;
    contact.observe(0); // this member stepped down (checkQuorum): in touch until then
    now = 21_000;
    leader = 0;
    assert.equal(contact.ageMs(), 1_000);
  });

  /** A KvApi that records the ranges asked and answers with one instance; `barrier` holds linearizable reads. */
  function recordingApi(barrier: Promise<void> = Promise.resolve()): { api: KvApi; asked: RangeRequest[] } {
    const asked: RangeRequest[] = [];
    const kv = {
      key: Buffer.from("services/web/a"),
      value: Buffer.from(JSON.stringify({ address: "10.0.0.1", port: 80 })),
      createRevision: 2,
      modRevision: 2,
      version: 1,
      lease: 0,
    };
    const range = async (request: RangeRequest): Promise<RangeResponse> => {
      asked.push(request);
      if (!request.serializable) await barrier;
      return { header: { clusterId: 1, memberId: 1, revision: 2, raftTerm: 1 }, kvs: [kv], more: false, count: 1 };
    };
    return { api: { range } as unknown as KvApi, asked };
  }

  const contactOf = (ageMs: number, hasLeader: boolean): LeaderContact => ({ ageMs: () => ageMs, hasLeader: () => hasLeader }) as unknown as LeaderContact;

  test("within the bound: a serializable read of the registry's prefix; past it: a linearizable one", async () => {
    const { api, asked } = recordingApi();
    assert.deepEqual(
      (await new RegistryReader(api, contactOf(900, true), { maxStaleMs: 1_000, leaderReadTimeoutMs: 1_000 }).instances("web")).map((each) => each.address),
      ["10.0.0.1"],
    );
    await new RegistryReader(api, contactOf(1_100, true), { maxStaleMs: 1_000, leaderReadTimeoutMs: 1_000 }).instances("web");
    assert.deepEqual(
      asked.map((request) => [Buffer.from(request.key).toString(), request.serializable]),
      [
        ["services/web/", true],
        ["services/web/", false],
      ],
    );
  });

  test("past the bound with no leader, or a leader that does not answer in time: no answer", async () => {
    const { api } = recordingApi(new Promise(() => undefined));
    await assert.rejects(
      new RegistryReader(api, contactOf(Infinity, false), { maxStaleMs: 1_000, leaderReadTimeoutMs: 1_000 }).instances("web"),
      NoFreshAnswer,
    );
    await assert.rejects(new RegistryReader(api, contactOf(5_000, true), { maxStaleMs: 1_000, leaderReadTimeoutMs: 50 }).instances("web"), NoFreshAnswer);
  });
});

describe("the listeners", () => {
  async function withServer(run: (server: DnsServer, metrics: Registry) => Promise<void>): Promise<void> {
    const many = Array.from({ length: 60 }, (_, i) => instance(`i${i}`, `10.2.0.${i + 1}`, { port: 9000 + i }));
    const metrics = new Registry();
    const responder = new DnsResponder(ZONE, new FixedSource({ web: WEB, big: many }));
    const server = await DnsServer.start({ listen: { host: "127.0.0.1", port: 0 }, responder, metrics, logger: pino({ level: "silent" }) });
    try {
      await run(server, metrics);
    } finally {
      await server.close();
    }
  }

  /** How long a listener has to answer: a lost answer fails the test, saying which, instead of hanging it. */
  const ANSWER_DEADLINE_MS = 10_000;
  async function within<T>(answer: Promise<T>, what: string): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no ${what} within ${ANSWER_DEADLINE_MS} ms`)), ANSWER_DEADLINE_MS);
    });
    return Promise.race([answer, late]).finally(() => clearTimeout(timer));
  }

  /** Sends `before`, then `message`, from one socket; resolves with the answer to `message` (by its id). */
  async function overUdp(server: DnsServer, message: Buffer, before: readonly Buffer[] = []): Promise<DecodedPacket & { rcode?: string }> {
    const socket = createSocket("udp4");
    const id = message.readUInt16BE(0);
    const answered = new Promise<DecodedPacket>((resolve) =>
      socket.on("message", (reply: Buffer) => {
        const decoded = dnsPacket.decode(reply);
        if (decoded.id === id) resolve(decoded);
      }),
    );
    try {
      for (const earlier of before) socket.send(earlier, server.address.port, "127.0.0.1");
      socket.send(message, server.address.port, "127.0.0.1");
      return await within(answered, "a UDP answer");
    } finally {
      socket.close();
    }
  }

  async function overTcp(server: DnsServer, messages: readonly Buffer[]): Promise<DecodedPacket[]> {
    const socket = connect(server.address.port, "127.0.0.1");
    const replies: DecodedPacket[] = [];
    let buffered = Buffer.alloc(0);
    const done = new Promise<void>((resolve, reject) => {
      socket.on("error", reject);
      socket.on("data", (chunk: Buffer) => {
        buffered = Buffer.concat([buffered, chunk]);
        while (buffered.length >= 2 && buffered.length >= 2 + buffered.readUInt16BE(0)) {
          replies.push(dnsPacket.decode(buffered.subarray(2, 2 + buffered.readUInt16BE(0))));
          buffered = buffered.subarray(2 + buffered.readUInt16BE(0));
        }
        if (replies.length === messages.length) resolve();
      });
    });
    // All frames in one write, split mid-frame by the second: the server reassembles them.
    const stream = Buffer.concat(messages.map((message) => dnsPacket.streamEncode(dnsPacket.decode(message))));
    socket.write(stream.subarray(0, 5));
    socket.write(stream.subarray(5));
    await within(done, `${messages.length} TCP answers`).finally(() => socket.destroy());
    return replies;
  }

  test("UDP answers, truncates a large answer, and TCP answers it whole, several queries on one connection", async () => {
    await withServer(async (server) => {
      assert.equal((await overUdp(server, query("web.service.raftkv", "A"))).answers?.length, 2);
      const truncated = await overUdp(server, query("big.service.raftkv", "SRV"));
      assert.ok(truncated.flag_tc);
      const [whole, small] = await overTcp(server, [query("big.service.raftkv", "SRV"), query("web.service.raftkv", "AAAA")]);
      assert.ok(whole && !whole.flag_tc && whole.answers?.length === 60);
      assert.deepEqual(dataOf(small?.answers), ["fd00::6"]);
    });
  });

  test("a port taken on TCP fails the start and leaves the UDP port free (an open socket would keep the process up)", async () => {
    const taken = createServer();
    taken.listen(0, "127.0.0.1");
    await once(taken, "listening");
    const { port } = taken.address() as AddressInfo;
    try {
      const start = DnsServer.start({
        listen: { host: "127.0.0.1", port },
        responder: new DnsResponder(ZONE, new FixedSource({})),
        metrics: new Registry(),
        logger: pino({ level: "silent" }),
      });
      await assert.rejects(start, { code: "EADDRINUSE" });
      const udp = createSocket("udp4");
      udp.bind(port, "127.0.0.1");
      await once(udp, "listening");
      await new Promise<void>((resolve) => udp.close(resolve));
    } finally {
      taken.close();
    }
  });

  test("garbage is dropped or refused and counted; the server keeps answering", async () => {
    await withServer(async (server, metrics) => {
      // Too short for a header, too long for a query, and a header over garbage (whose FORMERR the socket ignores).
      const junk = [Buffer.from([1]), Buffer.alloc(5000, 7), Buffer.from("\u0000\u0001not a dns message at all")];
      const reply = await overUdp(server, query("web.service.raftkv", "A"), junk);
      assert.equal(reply.rcode, "NOERROR");
      const counts = async (): Promise<Map<string, number>> =>
        new Map(
          (await metrics.getSingleMetric("raftkv_dns_queries_total")?.get())?.values.map(({ labels, value }) => [
            `${labels.transport} ${labels.result}`,
            value,
          ]),
        );
      const expected = new Map([
        ["udp dropped", 2],
        ["udp FORMERR", 1],
        ["udp NOERROR", 1],
      ]);
      const deadline = Date.now() + 5_000;
      while (!isDeepStrictEqual(await counts(), expected) && Date.now() < deadline) await delay(10);
      assert.deepEqual(await counts(), expected);
    });
  });
});
