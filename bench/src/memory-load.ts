/**
 * `pnpm --filter @raftkv/bench memory-load`: a short, bounded load on a fresh
 * raftkv cluster, then where each member's memory sits (issue 19). The full
 * throughput run's peak RSS comes from its 256-connection range rows; this
 * replays them alone, so that a launch setting or a change can be measured
 * A/B in a minute per run. Nothing here is timed: RSS, heap and CPU per
 * request do not depend on how loaded the machine is, only on the work.
 */
import { readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { LocalCluster, type Member } from "./clusters.js";
import { assignment } from "./growth-options.js";
import { preload } from "./throughput/run.js";
import { list, positive } from "./throughput/options.js";
import { sampleProcess } from "./throughput/proc.js";
import { WORKLOADS, wrkScript, type Workload } from "./throughput/workloads.js";
import { BUDGET_SPENT, runWrk, spreadConnections } from "./throughput/wrk.js";

const USAGE = `usage: memory-load [options]
  --rows LIST        workload@connections[xREQUESTS], run in order (default range@256,serializable@256,mix@256);
                     with xREQUESTS a row ends after about that many requests (fixed work, so that runs compare);
                     --rows= (none) measures a fresh cluster at rest: nothing is preloaded
  --idle S           seconds the cluster idles after the rows, before the account (default 0)
  --duration S       seconds per row, or its limit when it counts requests (default 15)
  --keyspace N       keys preloaded and used by the rows (default 10000)
  --node-flags=LIST  comma-separated Node.js flags for the members
  --env LIST         comma-separated NAME=VALUE for the members, e.g. MALLOC_ARENA_MAX=2
  --base-port N      members listen from N (default 26000)`;

const MIB = 2 ** 20;

interface LoadRow {
  readonly workload: Workload;
  readonly connections: number;
  readonly requests: number | undefined;
}

/** Where one member's memory sits after the load, in MiB, and its CPU per request over the rows. */
interface MemberAccount {
  readonly name: string;
  readonly leader: boolean;
  readonly rss: number;
  /** smaps: the main malloc heap (brk), other anonymous memory (V8's heap, thread arenas, stacks), file-backed. */
  readonly mallocHeap: number;
  readonly otherAnonymous: number;
  readonly fileBacked: number;
  /** V8, from the member's own /metrics: committed and used per heap space, and external (Buffers). */
  readonly v8Committed: number;
  readonly youngCommitted: number;
  readonly oldUsed: number;
  readonly external: number;
  readonly cpuMsPerKiloRequest: number;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      rows: { type: "string", default: "range@256,serializable@256,mix@256" },
      duration: { type: "string", default: "15" },
      idle: { type: "string", default: "0" },
      keyspace: { type: "string", default: "10000" },
      "node-flags": { type: "string", default: "" },
      env: { type: "string", default: "" },
      "base-port": { type: "string", default: "26000" },
    },
  });
  const rows = list(values.rows).map(loadRow);
  const durationS = positive(values.duration, USAGE);
  const idleS = nonNegative(values.idle);
  const keyspace = positive(values.keyspace, USAGE);
  const env = Object.fromEntries(list(values.env).map((text) => assignment(text, USAGE)));
  const cluster = await LocalCluster.start("raftkv", positive(values["base-port"], USAGE), 3, { nodeFlags: list(values["node-flags"]), env });
  const scriptDir = await mkdtemp(join(tmpdir(), "raftkv-memory-load-"));
  try {
    if (rows.length > 0) await preload(cluster, keyspace);
    const members = cluster.running();
    const cpuBefore = members.map((member) => sampleProcess(pidOf(member)).cpuS);
    let requests = 0;
    for (const row of rows) {
      const scriptPath = join(scriptDir, `${row.workload}.lua`);
      const targets = spreadConnections(
        members.map((member) => member.clientUrl),
        row.connections,
      );
      const budget = row.requests === undefined ? "" : budgetLua(Math.ceil(row.requests / targets.length));
      await writeFile(scriptPath, wrkScript(row.workload, keyspace) + budget);
      const load = await runWrk(targets, scriptPath, durationS, 1);
      requests += load.requests;
      console.log(`${row.workload}@${row.connections}: ${load.requests} requests, ${load.errors} errors`);
    }
    const leader = await cluster.waitForLeader(10_000);
    await sleep(idleS * 1000);
    const accounts = await Promise.all(
      members.map((member, i) => account(member, member === leader, sampleProcess(pidOf(member)).cpuS - cpuBefore[i]!, requests)),
    );
    console.table(accounts.map((a) => Object.fromEntries(Object.entries(a).map(([k, v]) => [k, typeof v === "number" ? Math.round(v * 10) / 10 : v]))));
    console.log(`MEMORY_LOAD ${JSON.stringify({ rows: values.rows, durationS, idleS, keyspace, nodeFlags: values["node-flags"], env, requests, accounts })}`);
  } finally {
    await cluster.stop();
    await rm(scriptDir, { recursive: true, force: true });
  }
}

function nonNegative(text: string): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n < 0) throw new Error(`expected a number of seconds, got "${text}"\n${USAGE}`);
  return n;
}

function loadRow(text: string): LoadRow {
  const match = /^(\w+)@(\d+)(?:x(\d+))?$/.exec(text);
  const workload = match?.[1] as Workload | undefined;
  if (!match || !workload || !WORKLOADS.includes(workload)) {
    throw new Error(`expected workload@connections[xREQUESTS] with a workload of ${WORKLOADS.join(",")}, got "${text}"\n${USAGE}`);
  }
  return { workload, connections: positive(match[2]!, USAGE), requests: match[3] === undefined ? undefined : positive(match[3], USAGE) };
}

/** wrk's response() counting down one process's share of a row's requests (one thread a process, so one counter). */
function budgetLua(requests: number): string {
  return `
local budget = ${requests}
function response(status, headers, body)
  budget = budget - 1
  if budget == 0 then
    io.write("${BUDGET_SPENT}\\n")
    io.flush()
  end
end
`;
}

function pidOf(member: Member): number {
  const pid = member.process?.pid;
  if (pid === undefined) throw new Error(`member ${member.name} is not running`);
  return pid;
}

async function account(member: Member, leader: boolean, cpuS: number, requests: number): Promise<MemberAccount> {
  const pid = pidOf(member);
  // Read before the scrape, whose collection allocates in the member: at rest that would be much of what is measured.
  const mappings = smapsRss(pid);
  const rssBytes = sampleProcess(pid).rssBytes;
  const metrics = await scrapeMetrics(member);
  const space = (name: string, what: "total" | "used"): number => metrics.get(`nodejs_heap_space_size_${what}_bytes{space="${name}"}`) ?? 0;
  const committed = [...metrics].filter(([name]) => name.startsWith("nodejs_heap_space_size_total_bytes")).reduce((sum, [, bytes]) => sum + bytes, 0);
  return {
    name: member.name,
    leader,
    rss: rssBytes / MIB,
    mallocHeap: mappings.mallocHeap / MIB,
    otherAnonymous: mappings.otherAnonymous / MIB,
    fileBacked: mappings.fileBacked / MIB,
    v8Committed: committed / MIB,
    youngCommitted: space("new", "total") / MIB,
    oldUsed: space("old", "used") / MIB,
    external: (metrics.get("nodejs_external_memory_bytes") ?? 0) / MIB,
    cpuMsPerKiloRequest: requests > 0 ? (cpuS * 1e6) / requests : Number.NaN,
  };
}

/** Resident bytes of a process summed by kind of mapping, from /proc/<pid>/smaps. */
function smapsRss(pid: number): { mallocHeap: number; otherAnonymous: number; fileBacked: number } {
  const totals = { mallocHeap: 0, otherAnonymous: 0, fileBacked: 0 };
  let kind: keyof typeof totals = "otherAnonymous";
  for (const line of readFileSync(`/proc/${pid}/smaps`, "utf8").split("\n")) {
    const header = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ (\d+)\s*(.*)$/.exec(line);
    if (header) {
      const path = header[2]!;
      kind = path === "[heap]" ? "mallocHeap" : path.startsWith("/") ? "fileBacked" : "otherAnonymous";
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss) totals[kind] += Number(rss[1]) * 1024;
  }
  return totals;
}

/** The member's Prometheus samples without labels beyond the series name, e.g. `nodejs_heap_space_used_bytes{space="old"}`. */
async function scrapeMetrics(member: Member): Promise<Map<string, number>> {
  const text = await (await fetch(new URL("/metrics", member.clientUrl))).text();
  const samples = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line.startsWith("#") || line === "") continue;
    const at = line.lastIndexOf(" ");
    samples.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return samples;
}

await main();
