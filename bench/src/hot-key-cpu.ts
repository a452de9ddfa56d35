/**
 * A cluster's CPU per operation of the jepsen `hot-key` load, with every
 * member up and then with one member dead (issue 15): a fresh cluster of 3
 * or 5 members, 8 clients each doing one operation at a time on one key
 * through the v3 gateway (half linearizable ranges, a quarter puts, a
 * quarter compare-and-sets), each to a running member drawn at random; the
 * members' CPU time read from /proc before and after a fixed number of
 * operations, first with all members, then again after one follower was
 * SIGKILLed. CPU rather than wall time, so that a loaded machine changes the
 * figure little: what a dead member costs the survivors shows as CPU per
 * operation, not as a rate.
 */
import { Agent, request } from "node:http";
import { LocalCluster, type Member, profilingFlags, type System } from "./clusters.js";
import { parseProbeArgs, probeSystem, runProbe, wholeNumber } from "./probe-cli.js";
import { sampleProcess } from "./throughput/proc.js";

const USAGE = `usage: hot-key-cpu [--ops 4000] [--warm-up 15000] [--rounds 2] [--members 3|5] [--clients 8] [--system raftkv|etcd]
                   [--base-port 27600] [--profile DIR] [--node-flag FLAG]...
  --rounds     phases of --ops operations with every member up, before one is killed
  --node-flag  a Node.js or V8 flag for raftkv's members, after MEMBER_NODE_FLAGS (repeatable); under other V8
               flags a member refuses the build's code cache and writes its own over it, so compare flags
               from two builds, each with its cache made under its flags (bench/README.md, issue 15)`;

const KEY = Buffer.from("hot").toString("base64");

interface Options {
  readonly ops: number;
  readonly warmUp: number;
  readonly rounds: number;
  readonly members: number;
  readonly clients: number;
  readonly system: System;
  readonly basePort: number;
  readonly profileDir: string | undefined;
  readonly nodeFlags: readonly string[];
}

function parseOptions(argv: readonly string[]): Options | "help" {
  const { values } = parseArgsOrSayUsage(argv);
  if (values.help) return "help";
  return {
    ops: wholeNumber("--ops", values.ops, 1),
    warmUp: wholeNumber("--warm-up", values["warm-up"], 0),
    rounds: wholeNumber("--rounds", values.rounds, 1),
    members: wholeNumber("--members", values.members, 3),
    clients: wholeNumber("--clients", values.clients, 1),
    system: probeSystem(values.system),
    basePort: wholeNumber("--base-port", values["base-port"], 1),
    profileDir: values.profile,
    nodeFlags: values["node-flag"],
  };
}

function parseArgsOrSayUsage(argv: readonly string[]) {
  return parseProbeArgs({
    args: [...argv],
    options: {
      help: { type: "boolean", default: false },
      ops: { type: "string", default: "4000" },
      "warm-up": { type: "string", default: "15000" },
      rounds: { type: "string", default: "2" },
      members: { type: "string", default: "3" },
      clients: { type: "string", default: "8" },
      system: { type: "string", default: "raftkv" },
      "base-port": { type: "string", default: "27600" },
      profile: { type: "string" },
      "node-flag": { type: "string", multiple: true, default: [] },
    },
  });
}

/** One member's gateway, with kept-alive connections. */
interface Endpoint {
  readonly agent: Agent;
  readonly range: URL;
  readonly put: URL;
  readonly txn: URL;
}

function endpoint(member: Member, clients: number): Endpoint {
  const url = (path: string): URL => new URL(path, member.clientUrl);
  return { agent: new Agent({ keepAlive: true, maxSockets: clients }), range: url("/v3/kv/range"), put: url("/v3/kv/put"), txn: url("/v3/kv/txn") };
}

interface Tally {
  ok: number;
  failed: number;
  /** Of the successful operations, in ms. */
  readonly latencies: number[];
}

/** `ops` operations of the hot-key mix from `clients` clients, each to one of `members` drawn at random. */
async function drive(members: readonly Member[], ops: number, clients: number): Promise<Tally> {
  const endpoints = members.map((member) => endpoint(member, clients));
  const tally: Tally = { ok: 0, failed: 0, latencies: [] };
  let started = 0;
  let nextValue = 1;
  const client = async (): Promise<void> => {
    let lastSeen: string | undefined;
    while (started++ < ops) {
      const at = endpoints[Math.floor(Math.random() * endpoints.length)] as Endpoint;
      const dice = Math.random();
      const value = Buffer.from(String(nextValue++)).toString("base64");
      const started = performance.now();
      let reply: unknown;
      if (dice < 0.5) {
        reply = await post(at.agent, at.range, { key: KEY });
        const kv = (reply as { kvs?: { value: string }[] } | undefined)?.kvs?.[0];
        if (kv) lastSeen = kv.value;
      } else if (dice < 0.75 || lastSeen === undefined) {
        reply = await post(at.agent, at.put, { key: KEY, value });
      } else {
        const compare = [{ key: KEY, target: "VALUE", result: "EQUAL", value: lastSeen }];
        reply = await post(at.agent, at.txn, { compare, success: [{ request_put: { key: KEY, value } }] });
      }
      if (reply === undefined) tally.failed++;
      else {
        tally.ok++;
        tally.latencies.push(performance.now() - started);
      }
    }
  };
  await Promise.all(Array.from({ length: clients }, client));
  for (const { agent } of endpoints) agent.destroy();
  return tally;
}

/** A gateway call; its reply parsed, or undefined when it failed. */
function post(agent: Agent, url: URL, body: object): Promise<unknown> {
  return new Promise((resolve) => {
    const call = request(url, { method: "POST", agent, headers: { "content-type": "application/json" } }, (response) => {
      let text = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => (text += chunk));
      response.on("end", () => resolve(response.statusCode === 200 ? JSON.parse(text) : undefined));
    });
    call.on("error", () => resolve(undefined));
    call.end(JSON.stringify(body));
  });
}

interface Phase {
  readonly phase: string;
  readonly ok: number;
  readonly failed: number;
  readonly okPerS: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Every running member's CPU, summed, per successful operation. */
  readonly cpuUsPerOk: number;
  readonly members: { member: string; role: string; cpuUsPerOk: number }[];
}

/** Drives `ops` operations at the running members and counts their CPU. */
async function measure(phase: string, cluster: LocalCluster, leader: Member, options: Options): Promise<Phase> {
  const running = cluster.running();
  const pids = running.map((member) => member.process?.pid as number);
  const before = pids.map(sampleProcess);
  const { ok, failed, latencies } = await drive(running, options.ops, options.clients);
  const after = pids.map(sampleProcess);
  latencies.sort((a, b) => a - b);
  const percentile = (share: number): number => Math.round((latencies[Math.floor((latencies.length - 1) * share)] ?? Number.NaN) * 10) / 10;
  const cpuUs = running.map((_, i) => (after[i]!.cpuS - before[i]!.cpuS) * 1e6);
  const perOk = (us: number): number => Math.round(us / Math.max(1, ok));
  return {
    phase,
    ok,
    failed,
    okPerS: Math.round(ok / ((after[0]!.at - before[0]!.at) / 1000)),
    p50Ms: percentile(0.5),
    p99Ms: percentile(0.99),
    cpuUsPerOk: perOk(cpuUs.reduce((sum, us) => sum + us, 0)),
    members: running.map((member, i) => ({ member: member.name, role: member === leader ? "leader" : "follower", cpuUsPerOk: perOk(cpuUs[i]!) })),
  };
}

async function main(argv: readonly string[]): Promise<void> {
  const options = parseOptions(argv);
  if (options === "help") {
    console.log(USAGE);
    return;
  }
  const nodeFlags = options.system === "raftkv" ? [...(await profilingFlags(options.profileDir)), ...options.nodeFlags] : [];
  const cluster = await LocalCluster.start(options.system, options.basePort, options.members, { nodeFlags });
  try {
    const leader = await cluster.waitForLeader(10_000);
    // A fresh member's code is still being optimized for tens of seconds (its CPU per operation halves over the
    // first 20,000 or so): the phases are compared warm, and the all-up rounds show whether they are (or, with
    // no warm-up, how fast a cold member gets there).
    await drive(cluster.running(), options.warmUp, options.clients);
    const allUp: Phase[] = [];
    for (let round = 1; round <= options.rounds; round++) allUp.push(await measure(`all up, round ${round}`, cluster, leader, options));
    const victim = cluster.members.find((member) => member !== leader) as Member;
    await cluster.kill(victim);
    const justDown = await measure(`${victim.name} just down`, cluster, leader, options);
    const oneDown = await measure(`${victim.name} down`, cluster, leader, options);
    console.log(JSON.stringify({ system: options.system, members: options.members, ops: options.ops, phases: [...allUp, justDown, oneDown] }));
  } finally {
    await cluster.stop(options.profileDir ? "SIGTERM" : "SIGKILL");
  }
}

runProbe("hot-key-cpu", USAGE, () => main(process.argv.slice(2)));
