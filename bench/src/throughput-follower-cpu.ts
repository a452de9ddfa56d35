/**
 * A follower's CPU per replicated entry (issues 15 and 19): a fresh 3-member
 * cluster, a fixed number of puts sent to the leader alone with a fixed
 * number in flight, and each member's CPU time read from /proc before and
 * after. With every request at the leader, a follower's CPU is the cost of
 * replication alone: receiving appends, writing them to its WAL,
 * acknowledging, applying. CPU rather than wall time, so that a loaded
 * machine changes the figure little.
 *
 * Options in USAGE. --follower-reads N keeps N serializable ranges in
 * flight at a follower during the puts and reports their latency: what a
 * follower's client sees while it replicates (its CPU figure then includes
 * those reads).
 */
import { readFileSync, readdirSync } from "node:fs";
import { Agent, request } from "node:http";
import { LocalCluster, type Member, profilingFlags, type System } from "./clusters.js";
import { parseProbeArgs, probeSystem, runProbe, wholeNumber } from "./probe-cli.js";
import { sampleProcess } from "./throughput/proc.js";

const USAGE = `usage: follower-cpu [--puts 20000] [--in-flight 64] [--system raftkv|etcd] [--base-port 27400]
                    [--profile DIR] [--follower-reads N]`;

const VALUE = Buffer.alloc(256, "v").toString("base64");
const DISTINCT_KEYS = 1000;

interface Options {
  readonly puts: number;
  readonly inFlight: number;
  readonly system: System;
  readonly basePort: number;
  readonly profileDir: string | undefined;
  readonly followerReads: number;
}

function parseOptions(argv: readonly string[]): Options | "help" {
  const { values } = parseArgsOrSayUsage(argv);
  if (values.help) return "help";
  return {
    puts: wholeNumber("--puts", values.puts, 1),
    inFlight: wholeNumber("--in-flight", values["in-flight"], 1),
    system: probeSystem(values.system),
    basePort: wholeNumber("--base-port", values["base-port"], 1),
    profileDir: values.profile,
    followerReads: wholeNumber("--follower-reads", values["follower-reads"], 0),
  };
}

function parseArgsOrSayUsage(argv: readonly string[]) {
  return parseProbeArgs({
    args: [...argv],
    options: {
      help: { type: "boolean", default: false },
      puts: { type: "string", default: "20000" },
      "in-flight": { type: "string", default: "64" },
      system: { type: "string", default: "raftkv" },
      "base-port": { type: "string", default: "27400" },
      profile: { type: "string" },
      "follower-reads": { type: "string", default: "0" },
    },
  });
}

/** Sends `count` puts to `member`, `inFlight` at a time over as many kept-alive connections; returns how many failed. */
async function sendPuts(member: Member, count: number, inFlight: number): Promise<number> {
  const agent = new Agent({ keepAlive: true, maxSockets: inFlight });
  const url = new URL("/v3/kv/put", member.clientUrl);
  let next = 0;
  let failed = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const key = Buffer.from(`key-${next++ % DISTINCT_KEYS}`).toString("base64");
      if (!(await post(agent, url, JSON.stringify({ key, value: VALUE })))) failed++;
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  agent.destroy();
  return failed;
}

/** Keeps `inFlight` serializable ranges going at `member` until `stop` resolves; returns their latencies in ms, sorted. */
async function readUntil(member: Member, inFlight: number, stop: Promise<unknown>): Promise<number[]> {
  const agent = new Agent({ keepAlive: true, maxSockets: inFlight });
  const url = new URL("/v3/kv/range", member.clientUrl);
  const body = JSON.stringify({ key: Buffer.from("key-0").toString("base64"), serializable: true });
  const latencies: number[] = [];
  let stopped = false;
  void stop.then(() => (stopped = true));
  const worker = async (): Promise<void> => {
    while (!stopped) {
      const started = performance.now();
      if (await post(agent, url, body)) latencies.push(performance.now() - started);
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  agent.destroy();
  return latencies.sort((a, b) => a - b);
}

function percentile(sorted: readonly number[], share: number): number | undefined {
  const value = sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * share))];
  return value === undefined ? undefined : Math.round(value * 100) / 100;
}

function post(agent: Agent, url: URL, body: string): Promise<boolean> {
  return new Promise((resolve) => {
    const call = request(url, { method: "POST", agent, headers: { "content-type": "application/json" } }, (response) => {
      response.resume();
      response.on("end", () => resolve(response.statusCode === 200));
    });
    call.on("error", () => resolve(false));
    call.end(body);
  });
}

/** Context switches of all a process's threads so far: each a thread put to sleep or woken (the thread pool's hand-offs). */
function contextSwitches(pid: number): number {
  let total = 0;
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    const status = readFileSync(`/proc/${pid}/task/${task}/status`, "utf8");
    for (const match of status.matchAll(/^(?:non)?voluntary_ctxt_switches:\s+(\d+)$/gm)) total += Number(match[1]);
  }
  return total;
}

/** How many WAL saves and apply batches a member has counted so far (the two histograms' counts in /metrics). */
async function stepCounts(member: Member): Promise<{ walSaves: number; applies: number }> {
  const text = await (await fetch(new URL("/metrics", member.clientUrl))).text();
  const count = (name: string): number => Number(new RegExp(`^${name}_count (\\d+)`, "m").exec(text)?.[1] ?? Number.NaN);
  return { walSaves: count("raftkv_wal_fsync_duration_seconds"), applies: count("raftkv_apply_duration_seconds") };
}

async function main(argv: readonly string[]): Promise<void> {
  const options = parseOptions(argv);
  if (options === "help") {
    console.log(USAGE);
    return;
  }
  const nodeFlags = options.system === "raftkv" ? await profilingFlags(options.profileDir) : [];
  const cluster = await LocalCluster.start(options.system, options.basePort, 3, { nodeFlags });
  try {
    const leader = await cluster.waitForLeader(10_000);
    await sendPuts(leader, 2000, options.inFlight); // warm-up: JIT, connections, LevelDB's first files
    const pids = cluster.members.map((member) => member.process?.pid as number);
    const countsBefore = options.system === "raftkv" ? await Promise.all(cluster.members.map(stepCounts)) : [];
    const switchesBefore = pids.map(contextSwitches);
    const before = pids.map(sampleProcess);
    const putting = sendPuts(leader, options.puts, options.inFlight);
    const follower = cluster.members.find((member) => member !== leader) as Member;
    const reads = options.followerReads > 0 ? readUntil(follower, options.followerReads, putting) : Promise.resolve([]);
    const failed = await putting;
    const after = pids.map(sampleProcess);
    const switchesAfter = pids.map(contextSwitches);
    const countsAfter = options.system === "raftkv" ? await Promise.all(cluster.members.map(stepCounts)) : [];
    const perSave = (i: number, step: "walSaves" | "applies"): number | undefined =>
      countsAfter[i] && countsBefore[i] ? Math.round((options.puts / (countsAfter[i][step] - countsBefore[i][step])) * 10) / 10 : undefined;
    const seconds = (after[0]!.at - before[0]!.at) / 1000;
    const perEntry = cluster.members.map((member, i) => ({
      member: member.name,
      role: member === leader ? "leader" : "follower",
      cpuUsPerEntry: Math.round(((after[i]!.cpuS - before[i]!.cpuS) * 1e6) / options.puts),
      contextSwitchesPerEntry: Math.round(((switchesAfter[i]! - switchesBefore[i]!) / options.puts) * 100) / 100,
      entriesPerWalSave: perSave(i, "walSaves"),
      entriesPerApply: perSave(i, "applies"),
    }));
    const readLatencies = await reads;
    const followerReads = { at: follower.name, count: readLatencies.length, p50Ms: percentile(readLatencies, 0.5), p99Ms: percentile(readLatencies, 0.99) };
    console.log(JSON.stringify({ system: options.system, puts: options.puts, failed, putsPerS: Math.round(options.puts / seconds), perEntry, followerReads }));
  } finally {
    await cluster.stop(options.profileDir ? "SIGTERM" : "SIGKILL");
  }
}

runProbe("follower-cpu", USAGE, () => main(process.argv.slice(2)));
