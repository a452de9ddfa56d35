/**
 * Restarting a member and timing it, shared by the restart and growth
 * benchmarks: SIGKILL a follower, optionally change the cluster while it is
 * down, start it again on its data directory, and time from the process
 * start to the first linearizable read it serves.
 */
import { readFileSync, readdirSync } from "node:fs";
import { put, type LocalCluster, type Member } from "./clusters.js";
import { keyAt, VALUE } from "./throughput/workloads.js";

const LOAD_CONCURRENCY = 64;
const GIVE_UP_MS = 300_000;
const POLL_MS = 5;

export interface RestartTrial {
  /** From the process start to its first HTTP answer of any kind. */
  readonly firstAnswerMs: number;
  /** From the process start to the first linearizable range it served. */
  readonly firstReadMs: number;
  /** The member's CPU time (see processCpuMs) when its first linearizable read was answered: on a busy machine, what wall time cannot say. */
  readonly firstReadCpuMs: number;
}

/** Puts keys `from` to `to` (exclusive), `LOAD_CONCURRENCY` at a time, through `member`, retrying each until acknowledged. */
export async function putKeys(member: Member, from: number, to: number): Promise<void> {
  let next = from;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < to; i = next++) {
      while (!(await put(member, keyAt(i), VALUE, 5_000))) await new Promise((resolveRetry) => setTimeout(resolveRetry, 50));
    }
  };
  await Promise.all(Array.from({ length: LOAD_CONCURRENCY }, worker));
}

/** Whether the member answers a linearizable range (true), answers anything else (false), or nothing (undefined). */
export async function linearizableRead(member: Member): Promise<boolean | undefined> {
  try {
    const body = JSON.stringify({ key: Buffer.from(keyAt(0)).toString("base64") });
    const response = await fetch(`${member.clientUrl}/v3/kv/range`, { method: "POST", body, signal: AbortSignal.timeout(1_000) });
    await response.arrayBuffer();
    return response.ok;
  } catch {
    return undefined;
  }
}

/**
 * Kills a follower, runs `whileDown` (given the leader and the stopped
 * member), starts the follower again and waits for its first linearizable
 * read.
 */
export async function restartFollower(cluster: LocalCluster, whileDown?: (leader: Member, follower: Member) => Promise<void>): Promise<RestartTrial> {
  const leader = await cluster.waitForLeader(30_000);
  const follower = cluster.members.find((member) => member !== leader && member.process);
  if (!follower) throw new Error(`${cluster.system}: no follower running`);
  await cluster.kill(follower);
  await whileDown?.(leader, follower);
  const startedAt = performance.now();
  cluster.launch(follower);
  const pid = follower.process?.pid;
  if (pid === undefined) throw new Error(`${cluster.system}: the restarted follower has no process id`);
  let firstAnswerMs: number | undefined;
  for (;;) {
    const read = await linearizableRead(follower);
    const elapsed = performance.now() - startedAt;
    if (read !== undefined) firstAnswerMs ??= elapsed;
    if (read === true) return { firstAnswerMs: firstAnswerMs ?? elapsed, firstReadMs: elapsed, firstReadCpuMs: processCpuMs(pid) };
    if (elapsed > GIVE_UP_MS) throw new Error(`${cluster.system}: no linearizable read within ${GIVE_UP_MS} ms of the restart`);
    await new Promise((resolveWait) => setTimeout(resolveWait, POLL_MS));
  }
}

/**
 * The CPU time of a process's threads in ms, from the scheduler's count of
 * nanoseconds each ran (/proc/<pid>/task/<tid>/schedstat): /proc's utime and
 * stime count 10 ms ticks, too coarse for a restart's 200 ms. A thread that
 * ended meanwhile is not counted; a member's threads live as long as it does.
 */
export function processCpuMs(pid: number): number {
  const tasks = `/proc/${pid}/task`;
  let totalNs = 0;
  for (const thread of readdirSync(tasks)) {
    try {
      totalNs += Number(readFileSync(`${tasks}/${thread}/schedstat`, "utf8").split(" ")[0]);
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return totalNs / 1e6;
}

export function median(samples: readonly number[]): number {
  const sorted = [...samples].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}
