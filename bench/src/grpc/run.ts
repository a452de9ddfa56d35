/**
 * One row against one cluster's leader: the load comes from worker threads
 * (worker.ts), the watch row's writer from this thread; the generator's own
 * CPU and the members' CPU are sampled over the measured window.
 */
import { Worker } from "node:worker_threads";
import type { LocalCluster, Member, System } from "../clusters.js";
import { cpuPercent, sampleProcess } from "../throughput/proc.js";
import { VALUE } from "../throughput/workloads.js";
import { Histogram } from "./histogram.js";
import { now, sleepUntil, type FromWorker, type Job, type Security, type ToWorker, type Window, type WorkerResult } from "./jobs.js";
import type { RowSpec } from "./options.js";
import { call, connect, ready, type EtcdClient } from "./protos.js";

/** The watched key: outside the keyspace the other rows use. */
export const WATCHED_KEY = "watched-key-0000";
/** Time given to every worker to see the window before its load starts. */
const START_DELAY_MS = 100;

export interface RowPlan {
  readonly row: RowSpec;
  readonly connections: number;
  readonly workers: number;
  readonly keyspace: number;
  readonly warmupS: number;
  readonly durationS: number;
}

export interface RowResult {
  readonly system: System;
  readonly row: RowSpec;
  /** Calls completed per second, or events delivered per second for the watch row. */
  readonly rate: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly completed: number;
  readonly errors: number;
  readonly firstError: string | undefined;
  readonly connections: number;
  readonly workers: number;
  /** The load generator's process (all its threads), in percent of one core. */
  readonly generatorCpuPercent: number;
  /** The busiest worker's event-loop busy share, 0 to 1 (the Node generator's; clientv3-load has no event loop). */
  readonly busiestWorker?: number;
  /** Per member, leader first, in percent of one core. */
  readonly serverCpuPercent: readonly number[];
  /** The watch row's writer: puts acknowledged per second. */
  readonly writerPutsPerS?: number;
}

export async function measureRow(cluster: LocalCluster, plan: RowPlan): Promise<RowResult> {
  const { members, address, security } = await target(cluster);
  const jobs = jobsFor(address, plan, security);
  const started = await Promise.allSettled(jobs.map(startWorker));
  const workers = started.flatMap((outcome) => (outcome.status === "fulfilled" ? [outcome.value] : []));
  try {
    const failed = started.find((outcome) => outcome.status === "rejected");
    if (failed) throw failed.reason;
    const writerClient = plan.row.kind === "watch" ? await connected(connect("KV", address, security)) : undefined;
    const window = windowFrom(now() + START_DELAY_MS, plan);
    for (const worker of workers) worker.send({ kind: "go", window });
    const usage = sampleUsage(members, window);
    const writer = writerClient ? await runWriter(writerClient, window, workers) : undefined;
    const results = await Promise.all(workers.map((worker) => worker.result()));
    return summarize(cluster.system, plan, results, await usage, writer);
  } finally {
    await Promise.all(workers.map((worker) => worker.terminate()));
  }
}

/** Where a row sends its calls: the leader, with what its calls need; its members, leader first, for their CPU. */
export async function target(cluster: LocalCluster): Promise<{ members: Member[]; address: string; security: Security | undefined }> {
  const leader = await cluster.waitForLeader(10_000);
  const members = [leader, ...cluster.running().filter((member) => member !== leader)];
  return { members, address: new URL(leader.clientUrl).host, security: securityOf(leader) };
}

/** The row's window when its load starts at `startAt`. */
export function windowFrom(startAt: number, plan: RowPlan): Window {
  return { startAt, measureFrom: startAt + plan.warmupS * 1_000, measureUntil: startAt + (plan.warmupS + plan.durationS) * 1_000 };
}

/** The connections a row opens: one Watch stream on each of the pool's in the watch row, at most one per call in flight in the others. */
export function connectionsOf(plan: RowPlan): number {
  return plan.row.kind === "watch" ? plan.connections : Math.min(plan.connections, plan.row.concurrency);
}

/** `total` split into `parts` whole shares that differ by at most one. */
function split(total: number, parts: number): number[] {
  return Array.from({ length: parts }, (_, i) => Math.floor(total / parts) + (i < total % parts ? 1 : 0));
}

/** One job per worker: the row's connections (or watch streams) and calls in flight (or watchers) shared out evenly. */
export function jobsFor(address: string, plan: RowPlan, security?: Security): Job[] {
  const jobs = plan.row.kind === "watch" ? watchJobs(address, plan.row.watchers, plan) : unaryJobs(address, plan.row, plan);
  return security ? jobs.map((job) => ({ ...job, security })) : jobs;
}

/** The member's CA and token, as the calls need them (see clusters.ts's Access). */
function securityOf(member: Member): Security | undefined {
  const { ca, token } = member.access ?? {};
  if (ca === undefined) return undefined;
  return { caPem: ca.toString(), ...(token !== undefined && { token }) };
}

function unaryJobs(address: string, { kind, concurrency }: Extract<RowSpec, { kind: "put" | "range" | "serializable" }>, plan: RowPlan): Job[] {
  const connections = Math.min(plan.connections, concurrency);
  const perConnection = split(concurrency, connections);
  let next = 0;
  return split(connections, Math.min(plan.workers, connections)).map((share) => {
    const mine = perConnection.slice(next, next + share);
    next += share;
    return { kind: "unary", request: kind, address, connections: share, concurrency: mine.reduce((a, b) => a + b, 0), keyspace: plan.keyspace };
  });
}

function watchJobs(address: string, watchers: number, plan: RowPlan): Job[] {
  const perStream = split(watchers, plan.connections);
  let next = 0;
  return split(plan.connections, Math.min(plan.workers, plan.connections)).map((share) => {
    const watchers = perStream.slice(next, next + share);
    next += share;
    return { kind: "watch", address, key: WATCHED_KEY, watchers };
  });
}

interface LoadWorker {
  send(message: ToWorker): void;
  result(): Promise<WorkerResult>;
  terminate(): Promise<number>;
}

async function connected(client: EtcdClient): Promise<EtcdClient> {
  await ready(client, 10_000);
  return client;
}

/** Starts a worker on its job and resolves once its connections (and watchers) are up. */
async function startWorker(job: Job): Promise<LoadWorker> {
  const worker = new Worker(new URL("./worker.js", import.meta.url), { workerData: job });
  try {
    return await untilReady(worker);
  } catch (error) {
    await worker.terminate();
    throw error;
  }
}

async function untilReady(worker: Worker): Promise<LoadWorker> {
  const failed = new Promise<never>((_, reject) => {
    worker.once("error", reject);
    worker.once("exit", (code) => reject(new Error(`a load worker exited (code ${code}) before it reported`)));
  });
  const next = (): Promise<FromWorker> => Promise.race([new Promise<FromWorker>((resolveMessage) => worker.once("message", resolveMessage)), failed]);
  const first = await next();
  if (first.kind !== "ready") throw new Error(`a load worker said ${first.kind} before ready`);
  const result = next().then((message) => {
    if (message.kind !== "result") throw new Error(`a load worker said ${message.kind} instead of its result`);
    return message.result;
  });
  result.catch(() => undefined);
  return { send: (message) => worker.postMessage(message), result: () => result, terminate: () => worker.terminate() };
}

interface Usage {
  readonly generatorCpuPercent: number;
  readonly serverCpuPercent: readonly number[];
}

async function sampleUsage(members: readonly Member[], window: Window): Promise<Usage> {
  const generatorBefore = sleepUntil(window.measureFrom).then(() => process.cpuUsage());
  const serverCpuPercent = await serversCpuOver(members, window);
  const generator = process.cpuUsage(await generatorBefore);
  return { generatorCpuPercent: ((generator.user + generator.system) / 1_000 / (window.measureUntil - window.measureFrom)) * 100, serverCpuPercent };
}

/** Each member's CPU over the window, in percent of one core. */
export async function serversCpuOver(members: readonly Member[], window: Window): Promise<number[]> {
  await sleepUntil(window.measureFrom);
  const pids = members.map((member) => member.process?.pid ?? 0);
  const before = pids.map(sampleProcess);
  await sleepUntil(window.measureUntil);
  return pids.map(sampleProcess).map((after, i) => cpuPercent(before[i]!, after));
}

interface Writer {
  readonly putsPerS: number;
  readonly errors: number;
  readonly firstError: string | undefined;
}

/**
 * The watch row's one writer: puts to the watched key one at a time, the
 * next as soon as the last is acknowledged, and tells every worker when
 * each put was acknowledged.
 */
async function runWriter(client: EtcdClient, window: Window, workers: readonly LoadWorker[]): Promise<Writer> {
  try {
    const request = { key: Buffer.from(WATCHED_KEY), value: Buffer.from(VALUE) };
    let acknowledged = 0;
    let errors = 0;
    let firstError: string | undefined;
    const inWindow = (at: number): boolean => at >= window.measureFrom && at <= window.measureUntil;
    await sleepUntil(window.startAt);
    while (now() < window.measureUntil) {
      try {
        const reply = await call(client, "Put", request);
        const at = now();
        if (inWindow(at)) acknowledged++;
        for (const worker of workers) worker.send({ kind: "ack", revision: Number(reply.header.revision), at });
      } catch (error) {
        if (inWindow(now())) errors++;
        firstError ??= `writer: ${String(error)}`;
      }
    }
    return { putsPerS: acknowledged / ((window.measureUntil - window.measureFrom) / 1_000), errors, firstError };
  } finally {
    for (const worker of workers) worker.send({ kind: "stop" });
    client.close();
  }
}

function summarize(system: System, plan: RowPlan, workers: readonly WorkerResult[], usage: Usage, writer: Writer | undefined): RowResult {
  // The writer's failures count with the watchers'.
  const results = writer ? [...workers, { ...writer, completed: 0, latency: [], busy: 0 }] : workers;
  const latency = Histogram.merged(results.map((result) => result.latency));
  const completed = results.reduce((sum, result) => sum + result.completed, 0);
  return {
    system,
    row: plan.row,
    rate: completed / plan.durationS,
    p50Ms: latency.quantile(0.5),
    p99Ms: latency.quantile(0.99),
    completed,
    errors: results.reduce((sum, result) => sum + result.errors, 0),
    firstError: results.find((result) => result.firstError !== undefined)?.firstError,
    connections: connectionsOf(plan),
    workers: workers.length,
    ...usage,
    busiestWorker: Math.max(...results.map((result) => result.busy)),
    ...(writer ? { writerPutsPerS: writer.putsPerS } : {}),
  };
}
