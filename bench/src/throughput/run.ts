/**
 * One row of the benchmark: a workload at a connection count against one
 * cluster, with the servers' CPU and memory over the measured window.
 */
import { type LocalCluster, put, type Member, type System } from "../clusters.js";
import { cpuPercent, sampleProcess } from "./proc.js";
import { keyAt, VALUE, type Workload } from "./workloads.js";
import { runWrk, spreadConnections, type LoadResult } from "./wrk.js";

export interface NodeUsage {
  readonly name: string;
  readonly leader: boolean;
  /** Percent of one core over the measured window. */
  readonly cpuPercent: number;
  readonly rssMiB: number;
}

export interface Row extends LoadResult {
  readonly system: System;
  readonly workload: Workload;
  readonly connections: number;
  readonly nodes: readonly NodeUsage[];
}

export interface RowPlan {
  readonly workload: Workload;
  readonly connections: number;
  readonly scriptPath: string;
  readonly warmupS: number;
  readonly durationS: number;
}

export async function measureRow(cluster: LocalCluster, plan: RowPlan): Promise<Row> {
  const leader = await cluster.waitForLeader(10_000);
  // The leader first, so that a single connection measures the direct path.
  const members = [leader, ...cluster.running().filter((member) => member !== leader)];
  const targets = spreadConnections(
    members.map((member) => member.clientUrl),
    plan.connections,
  );
  await runWrk(targets, plan.scriptPath, plan.warmupS, 1);
  const before = members.map((member) => sampleProcess(pidOf(member)));
  const load = await runWrk(targets, plan.scriptPath, plan.durationS, 1_000);
  const after = members.map((member) => sampleProcess(pidOf(member)));
  const nodes = members.map((member, i) => ({
    name: member.name,
    leader: member === leader,
    cpuPercent: cpuPercent(before[i]!, after[i]!),
    rssMiB: after[i]!.rssBytes / 2 ** 20,
  }));
  return { system: cluster.system, workload: plan.workload, connections: plan.connections, nodes, ...load };
}

function pidOf(member: Member): number {
  const pid = member.process?.pid;
  if (pid === undefined) throw new Error(`member ${member.name} is not running`);
  return pid;
}

/** Writes every key once, so that ranges find a value from the first request. */
export async function preload(cluster: LocalCluster, keyspace: number): Promise<void> {
  const members = cluster.running();
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < keyspace; i = next++) {
      const member = members[i % members.length]!;
      if (!(await put(member, keyAt(i), VALUE, 5_000)) && !(await put(member, keyAt(i), VALUE, 5_000))) {
        throw new Error(`${cluster.system}: preloading ${keyAt(i)} failed twice`);
      }
    }
  };
  await Promise.all(Array.from({ length: 32 }, worker));
}
