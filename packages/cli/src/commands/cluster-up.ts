/**
 * `raftkv cluster up`: a development cluster on this machine, each node its
 * own `raftkv serve` process, until Ctrl-C or SIGTERM stops them all.
 */
import { existsSync } from "node:fs";
import { mkdir, readdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import { Option, type Command } from "commander";
import { UsageError } from "../errors.js";
import { LOCAL_HOST, bannerFor, memberServeFlags, parseClusterSize, planLocalCluster, type ClusterPlan, type ClusterSize } from "../local-cluster/plan.js";
import { portsInUse } from "../local-cluster/ports.js";
import { LocalCluster, type MemberLaunch } from "../local-cluster/supervisor.js";
import { addServeFlags, nodeConfigFrom, serveFlagValues, type ServeFlagValues } from "../serve-flags.js";
import { firstShutdownSignal } from "../signals.js";
import { securePlan } from "../local-cluster/tls.js";

/** How long nodes get to stop gracefully (a leader hands off leadership first). */
const STOP_DEADLINE_MS = 10_000;

const PLACEMENT = `
Nodes n1…n5 listen on 127.0.0.1: clients on 2379, 22379, 32379, 42379, 52379,
peers one port above; each keeps its data in <data-dir>/<name>. Run it again
with the same --data-dir to restart that cluster. The cluster-wide serve flags
above go to every node.`;

interface ClusterUpOptions {
  readonly nodes: ClusterSize;
  readonly dataDir: string;
  readonly tls?: boolean;
}

export function registerClusterUp(cluster: Command): void {
  const up = cluster
    .command("up")
    .description("start a local cluster, one process per node, and show their logs")
    .addOption(new Option("--nodes <count>", "how many nodes: 3 or 5").argParser(parseClusterSize).default(3))
    .option("--data-dir <dir>", "the directory that holds one data directory per node", "./data")
    .option(
      "--tls",
      "serve https:// to clients and speak mutual TLS between nodes, with a throw-away CA and node certificates made with openssl in <data-dir>/tls",
    )
    .addHelpText("after", PLACEMENT);
  addServeFlags(up, "cluster");
  up.action((options: ClusterUpOptions) =>
    clusterUp(planLocalCluster(options.nodes, resolve(options.dataDir)), serveFlagValues(up, "cluster"), options.tls ?? false),
  );
}

async function clusterUp(plainPlan: ClusterPlan, passedOn: ServeFlagValues, tls: boolean): Promise<void> {
  await refuseSwitchingTls(plainPlan, tls);
  const secure = tls ? await securePlan(plainPlan) : undefined;
  const plan = secure?.plan ?? plainPlan;
  const launches = plan.members.map((member) => ({
    name: member.name,
    flags: { ...passedOn, ...memberServeFlags(plan, member), ...secure?.flagsFor(member) },
  }));
  await refuseBadFlags(launches);
  const restarting = await holdsThisCluster(plan);
  await refuseBusyPorts(plan);
  // The nodes create their own directories, but maybe not the parent.
  await mkdir(plan.dataDir, { recursive: true });

  process.stdout.write(bannerFor(plan, restarting, secure ? `curl --cacert ${secure.caFile}` : "curl"));
  if (secure)
    process.stdout.write(`The CLI over TLS: raftkv --endpoints ${plan.members.map((m) => m.clientUrl).join(",")} --cacert ${secure.caFile} get foo\n\n`);
  const shutdown = firstShutdownSignal();
  const cluster = new LocalCluster(launches, say);
  const endedBy = await Promise.race([shutdown.then(() => "signal" as const), cluster.allExited().then(() => "every node exiting" as const)]);
  if (endedBy === "signal") await cluster.stop(STOP_DEADLINE_MS);
  if (cluster.problems.length > 0) throw new Error(cluster.problems.join("; "));
}

function say(line: string): void {
  process.stdout.write(`raftkv: ${line}\n`);
}

/** Checks every node's flags before starting any, so a bad value is one error, not one per node. */
async function refuseBadFlags(launches: readonly MemberLaunch[]): Promise<void> {
  for (const launch of launches) await nodeConfigFrom(launch.flags, process.env);
}

/**
 * A member's id comes from its peer URL, which --tls makes https://: a
 * cluster restarts the way it was made, with --tls or without, or its
 * members would not know themselves. (--tls makes <data-dir>/tls.)
 */
async function refuseSwitchingTls(plan: ClusterPlan, tls: boolean): Promise<void> {
  const madeWithTls = existsSync(join(plan.dataDir, "tls"));
  if (madeWithTls === tls || (await membersWithData(plan.dataDir)).length === 0) return;
  throw new UsageError(
    `${plan.dataDir} holds a cluster started ${madeWithTls ? "with" : "without"} --tls: ` +
      `start it ${madeWithTls ? "with" : "without"} --tls again (its members' ids come from their peer URLs), or pass another --data-dir`,
  );
}

/**
 * Whether the data dir already holds this cluster, to restart. Refuses one
 * that holds a different set of nodes: starting those would found a second
 * cluster beside the first.
 */
async function holdsThisCluster(plan: ClusterPlan): Promise<boolean> {
  const found = await membersWithData(plan.dataDir);
  if (found.length === 0) return false;
  const planned = plan.members.map((member) => member.name);
  if (found.join() === planned.join()) return true;
  throw new UsageError(
    `${plan.dataDir} holds data of ${found.join(", ")}, ` +
      `not of the ${planned.length}-node cluster ${planned.join(", ")}: ` +
      "pass the --nodes it was created with, or another --data-dir",
  );
}

/** Names of the node directories (n1, n2, …) under `dataDir` that hold something. */
async function membersWithData(dataDir: string): Promise<string[]> {
  const entries = await readdir(dataDir, { withFileTypes: true }).catch(() => []);
  const nodeDirs = entries.filter((entry) => entry.isDirectory() && /^n\d+$/.test(entry.name));
  const nonEmpty = await Promise.all(nodeDirs.map(async (entry) => (await readdir(resolve(dataDir, entry.name))).length > 0));
  return nodeDirs
    .filter((_, index) => nonEmpty[index])
    .map((entry) => entry.name)
    .sort((a, b) => Number(a.slice(1)) - Number(b.slice(1)));
}

async function refuseBusyPorts(plan: ClusterPlan): Promise<void> {
  const uses = new Map(
    plan.members.flatMap((member) => [
      [member.clientPort, `${member.name} client`],
      [member.peerPort, `${member.name} peer`],
      [member.dnsPort, `${member.name} dns`],
    ]),
  );
  const busy = await portsInUse(LOCAL_HOST, [...uses.keys()]);
  if (busy.length === 0) return;
  const named = busy.map((port) => `${port} (${uses.get(port)})`).join(", ");
  throw new Error(
    `${busy.length === 1 ? "port" : "ports"} ${named} already in use on ${LOCAL_HOST}; stop whatever listens there (another cluster up?) and try again`,
  );
}
