/**
 * DNS next to HTTP: queries answered per second by each member of a local
 * 3-member raftkv cluster, asked for a service's SRV records over UDP,
 * beside the plain `GET /v1/services/<name>` list request (linearizable, as
 * curl makes it) at the same concurrency. Both loads come from this one
 * process, one member at a time; on a small machine the load generator's
 * core is part of what is measured, so compare the two columns rather than
 * reading either as the server's ceiling.
 *
 *   pnpm --filter @raftkv/bench dns [--duration S] [--concurrency N] [--instances N] [--out FILE] [--smoke]
 */
import { createSocket } from "node:dgram";
import { writeFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import dnsPacket from "dns-packet";
import { LocalCluster, type Member } from "./clusters.js";

const USAGE = `usage: dns [options]
  --duration S      seconds measured per member and protocol (default 10; smoke 1)
  --concurrency N   queries or requests in flight (default 64; smoke 8)
  --instances N     instances registered under the service (default 3)
  --out FILE        also write the results as JSON
  --base-port N     members' client ports N, N+10, N+20; peers +1, DNS +2 (default 20000)
  --smoke           a few seconds in all, to keep the command working`;

const SERVICE = "bench";
/** A UDP query unanswered this long is counted lost and asked again. */
const LOST_AFTER_MS = 1_000;

export interface Rate {
  readonly answered: number;
  readonly perSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** DNS: queries lost or answered with an error; HTTP: failed requests. */
  readonly errors: number;
}

export interface MemberResult {
  readonly member: string;
  readonly role: "leader" | "follower";
  readonly dns: Rate;
  readonly http: Rate;
}

interface Options {
  readonly durationS: number;
  readonly concurrency: number;
  readonly instances: number;
  readonly out: string | undefined;
  readonly basePort: number;
}

function parseOptions(argv: readonly string[]): Options {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      duration: { type: "string" },
      concurrency: { type: "string" },
      instances: { type: "string" },
      out: { type: "string" },
      "base-port": { type: "string" },
      smoke: { type: "boolean", default: false },
    },
  });
  return {
    durationS: positive(values.duration ?? (values.smoke ? "1" : "10")),
    concurrency: positive(values.concurrency ?? (values.smoke ? "8" : "64")),
    instances: positive(values.instances ?? "3"),
    out: values.out,
    basePort: positive(values["base-port"] ?? "20000"),
  };
}

function positive(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`expected a positive whole number, got "${text}"\n${USAGE}`);
  return n;
}

const dnsPortOf = (member: Member): number => Number(new URL(member.clientUrl).port) + 2;

async function main(argv: readonly string[]): Promise<void> {
  if (argv.includes("--help")) return console.log(USAGE);
  const options = parseOptions(argv);
  const cluster = await LocalCluster.start("raftkv", options.basePort, 3, { memberFlags: (member) => [`--dns-addr=127.0.0.1:${dnsPortOf(member)}`] });
  try {
    const leader = await cluster.waitForLeader(30_000);
    await registerInstances(leader, options.instances);
    const results: MemberResult[] = [];
    for (const member of cluster.members) {
      await untilListed(member, options.instances);
      const dns = await measureDns(dnsPortOf(member), options);
      const http = await measureHttp(member, options);
      results.push({ member: member.name, role: member === leader ? "leader" : "follower", dns, http });
    }
    console.log(table(results, options));
    if (options.out) await writeFile(options.out, `${JSON.stringify({ options, results }, null, 2)}\n`);
  } finally {
    await cluster.stop();
  }
}

async function registerInstances(leader: Member, count: number): Promise<void> {
  for (let i = 1; i <= count; i++) {
    const body = JSON.stringify({ id: `i${i}`, address: `10.0.${Math.floor(i / 250)}.${(i % 250) + 1}`, port: 8000 + i, ttl: 3600 });
    const response = await fetch(`${leader.clientUrl}/v1/services/${SERVICE}`, { method: "POST", body });
    if (!response.ok) throw new Error(`registering instance ${i}: ${response.status} ${await response.text()}`);
  }
}

/** Waits (10 s at most) until the member's DNS answers with every instance: it reads its own state, which follows the leader. */
async function untilListed(member: Member, count: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const rate = await measureDns(dnsPortOf(member), { durationS: 0, concurrency: 1 }, count);
    if (rate.answered > 0) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${member.name}'s DNS does not list ${count} instances`);
}

/**
 * Keeps `concurrency` SRV queries in flight over one UDP socket for the
 * duration (at least one query). With `wantAnswers`, an answer counts only
 * if it has that many records.
 */
function measureDns(port: number, { durationS, concurrency }: Pick<Options, "durationS" | "concurrency">, wantAnswers?: number): Promise<Rate> {
  const query = dnsPacket.encode({ type: "query", id: 0, questions: [{ name: `${SERVICE}.service.raftkv`, type: "SRV" }] });
  const socket = createSocket("udp4");
  const sentAt = new Map<number, number>();
  const latencies: number[] = [];
  let errors = 0;
  let nextId = 0;
  const started = performance.now();
  const endsAt = started + durationS * 1_000;
  const send = (): void => {
    const id = nextId++ & 0xffff;
    const message = Buffer.from(query);
    message.writeUInt16BE(id, 0);
    sentAt.set(id, performance.now());
    socket.send(message, port, "127.0.0.1");
  };
  return new Promise((resolve) => {
    const finish = (): void => {
      clearInterval(lossCheck);
      socket.close();
      const elapsedS = (performance.now() - started) / 1_000;
      resolve({ answered: latencies.length, perSecond: latencies.length / elapsedS, ...percentiles(latencies), errors });
    };
    const replace = (): void => {
      if (performance.now() < endsAt) send();
      else if (sentAt.size === 0) finish();
    };
    socket.on("message", (reply: Buffer) => {
      const sent = sentAt.get(reply.readUInt16BE(0));
      if (sent === undefined) return;
      sentAt.delete(reply.readUInt16BE(0));
      // dns-packet decodes the rcode, though its types leave it out.
      const answer = dnsPacket.decode(reply) as ReturnType<typeof dnsPacket.decode> & { rcode?: string };
      const complete = answer.rcode === "NOERROR" && (wantAnswers === undefined || answer.answers?.length === wantAnswers);
      if (complete) latencies.push(performance.now() - sent);
      else errors++;
      replace();
    });
    const lossCheck = setInterval(() => {
      for (const [id, sent] of sentAt) {
        if (performance.now() - sent < LOST_AFTER_MS) continue;
        sentAt.delete(id);
        errors++;
        replace();
      }
    }, 100);
    for (let i = 0; i < concurrency; i++) send();
  });
}

/** `concurrency` loops of GET /v1/services/<name> for the duration. */
async function measureHttp(member: Member, { durationS, concurrency }: Options): Promise<Rate> {
  const latencies: number[] = [];
  let errors = 0;
  const started = performance.now();
  const endsAt = started + durationS * 1_000;
  const loop = async (): Promise<void> => {
    while (performance.now() < endsAt) {
      const sent = performance.now();
      try {
        const response = await fetch(`${member.clientUrl}/v1/services/${SERVICE}`);
        await response.arrayBuffer();
        if (response.ok) latencies.push(performance.now() - sent);
        else errors++;
      } catch {
        errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  const elapsedS = (performance.now() - started) / 1_000;
  return { answered: latencies.length, perSecond: latencies.length / elapsedS, ...percentiles(latencies), errors };
}

function percentiles(latencies: number[]): { p50Ms: number; p99Ms: number } {
  const sorted = [...latencies].sort((a, b) => a - b);
  const at = (fraction: number): number => sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))] ?? 0;
  return { p50Ms: at(0.5), p99Ms: at(0.99) };
}

function table(results: readonly MemberResult[], options: Options): string {
  const cells = (rate: Rate): string => `${Math.round(rate.perSecond)} | ${rate.p50Ms.toFixed(2)} | ${rate.p99Ms.toFixed(2)} | ${rate.errors}`;
  return [
    `${options.instances} instances, ${options.concurrency} in flight, ${options.durationS} s per cell`,
    "",
    "| member | role | DNS SRV q/s | p50 ms | p99 ms | errors | GET /v1/services req/s | p50 ms | p99 ms | errors |",
    "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|",
    ...results.map((result) => `| ${result.member} | ${result.role} | ${cells(result.dns)} | ${cells(result.http)} |`),
  ].join("\n");
}

main(process.argv.slice(2)).catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : String(error));
  process.exitCode = 1;
});
