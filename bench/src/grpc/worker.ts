/**
 * A load worker (a worker thread): runs one job of jobs.ts against one
 * member and reports what it measured. Several run side by side so that one
 * event loop's speed does not cap the load.
 */
import { parentPort, workerData } from "node:worker_threads";
import { performance } from "node:perf_hooks";
import { keyAt, VALUE } from "../throughput/workloads.js";
import { Histogram } from "./histogram.js";
import { now, sleepUntil, type FromWorker, type Job, type ToWorker, type UnaryJob, type WatchJob, type Window, type WorkerResult } from "./jobs.js";
import { call, connect, ready, type EtcdClient, type Message } from "./protos.js";

const CONNECT_TIMEOUT_MS = 10_000;
const port = parentPort!;

function post(message: FromWorker): void {
  port.postMessage(message);
}

/** Messages from the main thread in order, none lost between two waits. */
const inbox: ToWorker[] = [];
let waiting: ((message: ToWorker) => void) | undefined;
port.on("message", (message: ToWorker) => {
  if (waiting) {
    waiting(message);
    waiting = undefined;
  } else inbox.push(message);
});

function nextMessage(): Promise<ToWorker> {
  const queued = inbox.shift();
  return queued ? Promise.resolve(queued) : new Promise((resolveMessage) => (waiting = resolveMessage));
}

/** The event loop's busy share over the measured window. */
function busyShare(window: Window): Promise<number> {
  return sleepUntil(window.measureFrom).then(() => {
    const from = performance.eventLoopUtilization();
    return sleepUntil(window.measureUntil).then(() => performance.eventLoopUtilization(from).utilization);
  });
}

async function runUnary(job: UnaryJob): Promise<WorkerResult> {
  const clients = Array.from({ length: job.connections }, () => connect("KV", job.address, job.security));
  await Promise.all(clients.map((client) => ready(client, CONNECT_TIMEOUT_MS)));
  const keys = Array.from({ length: job.keyspace }, (_, i) => Buffer.from(keyAt(i)));
  const value = Buffer.from(VALUE);
  const [method, request]: ["Put" | "Range", (key: Buffer) => Message] =
    job.request === "put" ? ["Put", (key) => ({ key, value })] : ["Range", (key) => ({ key, serializable: job.request === "serializable" })];
  post({ kind: "ready" });
  const go = await nextMessage();
  if (go.kind !== "go") throw new Error(`expected go, got ${go.kind}`);
  const { window } = go;
  const latency = Histogram.empty();
  let completed = 0;
  let errors = 0;
  let firstError: string | undefined;
  const inWindow = (at: number): boolean => at >= window.measureFrom && at <= window.measureUntil;
  const loop = async (client: EtcdClient): Promise<void> => {
    while (now() < window.measureUntil) {
      const sent = now();
      try {
        await call(client, method, request(keys[Math.floor(Math.random() * keys.length)]!));
        const done = now();
        if (!inWindow(done)) continue;
        completed++;
        latency.record(done - sent);
      } catch (error) {
        if (inWindow(now())) errors++;
        firstError ??= String(error);
      }
    }
  };
  const busy = busyShare(window);
  await sleepUntil(window.startAt);
  await Promise.all(Array.from({ length: job.concurrency }, (_, i) => loop(clients[i % clients.length]!)));
  for (const client of clients) client.close();
  return { completed, latency: latency.toCounts(), errors, firstError, busy: await busy };
}

/**
 * Creates every watcher, then counts the events that arrive in the window.
 * An event's delay is its arrival here minus the arrival of the writer's
 * acknowledgement of the put that made it, both on the same clock; an event
 * that arrives before that acknowledgement counts as 0. Acknowledgements
 * come from the main thread and may arrive here after their events, so
 * arrivals wait for them.
 */
async function runWatch(job: WatchJob): Promise<WorkerResult> {
  const delays = Histogram.empty();
  const acks = new Map<number, number>();
  const awaitingAck = new Map<number, number[]>();
  let window: Window | undefined;
  let created = 0;
  let completed = 0;
  let errors = 0;
  let firstError: string | undefined;
  const onEvents = (events: readonly Message[]): void => {
    const at = now();
    if (!window || at < window.measureFrom || at > window.measureUntil) return;
    for (const event of events) {
      completed++;
      const revision = Number(event.kv.mod_revision);
      const ackAt = acks.get(revision);
      if (ackAt !== undefined) delays.record(Math.max(0, at - ackAt));
      else {
        const arrivals = awaitingAck.get(revision) ?? [];
        arrivals.push(at);
        awaitingAck.set(revision, arrivals);
      }
    }
  };
  const onFailure = (error: unknown): void => {
    errors++;
    firstError ??= String(error);
  };
  const clients = job.watchers.map(() => connect("Watch", job.address, job.security));
  const streams = clients.map((client) => {
    const stream = client.Watch();
    stream.on("data", (response: Message) => {
      if (response.canceled) onFailure(`watch ${response.watch_id} canceled: ${response.cancel_reason ?? ""}`);
      else if (response.created) created++;
      if (response.events) onEvents(response.events);
    });
    stream.on("error", (error: { code?: number }) => {
      // Our own cancel at the end is not a failure.
      if (error.code !== 1) onFailure(error);
    });
    return stream;
  });
  const key = Buffer.from(job.key);
  job.watchers.forEach((count, i) => {
    for (let w = 0; w < count; w++) streams[i]!.write({ create_request: { key } });
  });
  await untilAllCreated(
    () => created,
    job.watchers.reduce((sum, count) => sum + count, 0),
    () => firstError,
  );
  post({ kind: "ready" });
  let busy: Promise<number> = Promise.resolve(0);
  for (let message = await nextMessage(); message.kind !== "stop"; message = await nextMessage()) {
    if (message.kind === "go") {
      window = message.window;
      busy = busyShare(window);
    } else {
      acks.set(message.revision, message.at);
      for (const at of awaitingAck.get(message.revision) ?? []) delays.record(Math.max(0, at - message.at));
      awaitingAck.delete(message.revision);
    }
  }
  for (const stream of streams) stream.cancel();
  for (const client of clients) client.close();
  return { completed, latency: delays.toCounts(), errors, firstError, busy: await busy };
}

async function untilAllCreated(created: () => number, wanted: number, failure: () => string | undefined): Promise<void> {
  const deadline = now() + 60_000;
  while (created() < wanted) {
    const failed = failure();
    if (failed !== undefined) throw new Error(`creating watchers: ${failed}`);
    if (now() > deadline) throw new Error(`only ${created()} of ${wanted} watchers created within 60 s`);
    await new Promise((resolveWait) => setTimeout(resolveWait, 10));
  }
}

const job = workerData as Job;
const result = await (job.kind === "unary" ? runUnary(job) : runWatch(job));
post({ kind: "result", result });
