/**
 * One test run, start to finish: start a cluster, run a workload's clients
 * while the nemesis works through its schedule, heal everything, make the
 * final reads, tear the cluster down, check the history, write the report.
 * The cluster is torn down however the run ends.
 */
import { setMaxListeners } from "node:events";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { availability, nemesisWindows, timedOperations, type Availability } from "./availability.js";
import { HarnessError, waitForAgreedLeader, type ClusterDriver } from "./cluster.js";
import { DockerCluster } from "./docker.js";
import { FigureEight } from "./figure-eight.js";
import { renderReport } from "./html.js";
import { Nemesis } from "./nemesis.js";
import { LocalCluster } from "./netns.js";
import { Random } from "./random.js";
import { Recorder } from "./recorder.js";
import { schedule, type NemesisKind } from "./schedule.js";
import { abortAfter, abortWithAny, delay } from "./wait.js";
import { BankWorkload } from "./workloads/bank.js";
import { LockWorkload } from "./workloads/lock.js";
import { RegisterWorkload } from "./workloads/register.js";
import { SetWorkload } from "./workloads/set.js";
import { WatchWorkload } from "./workloads/watch.js";
import type { Anomaly, Client, Verdict, Workload, WorkloadContext } from "./workloads/workload.js";

export const WORKLOADS = ["register", "set", "lock", "watch", "bank"] as const;
export type WorkloadName = (typeof WORKLOADS)[number];

/** A scripted fault scenario, run instead of the random schedule. */
export type Scenario = "figure8";

export interface RunOptions {
  readonly workload: WorkloadName;
  readonly nemesis: readonly NemesisKind[];
  readonly scenario?: Scenario;
  readonly timeSeconds: number;
  readonly nodes: number;
  readonly out: string;
  readonly seed: number;
  readonly concurrency: number;
  /** Flags added to every `raftkv serve`, after the harness's timing defaults. */
  readonly serveFlags: readonly string[];
  readonly driver: "local" | "docker";
  readonly composeFile: string;
  readonly opTimeoutMs: number;
  /** Mean length of quiet and of fault windows. */
  readonly faultIntervalMs: number;
  readonly checkTimeoutMs: number;
}

export interface RunResult {
  readonly verdict: Verdict;
  readonly availability: Availability;
  readonly reportPath: string;
  readonly historyPath: string;
}

/** Fast failure detection, so that a short run sees many faults and recoveries. */
const TIMING_FLAGS = ["--heartbeat-interval=50", "--election-timeout=500"];
const LEADER_DEADLINE_MS = 30_000;
/** No success for this long counts as an outage: several election timeouts. */
const OUTAGE_THRESHOLD_MS = 2_000;
/** A client that failed waits this long before its next operation, so a dead member is not hammered. */
const BACKOFF_MS = 100;

export async function runTest(options: RunOptions, interrupt: AbortSignal): Promise<RunResult> {
  mkdirSync(options.out, { recursive: true });
  const random = new Random(options.seed);
  const driver = await createDriver(options);
  if (options.nemesis.includes("clock") && driver.unsupported.has("clock")) throw new HarnessError("this driver cannot skew clocks");
  if (options.scenario === "figure8") checkFigureEight(options, driver);
  const recorder = new Recorder();
  const context: WorkloadContext = { driver, recorder, random: random.fork(), timeoutMs: options.opTimeoutMs, checkTimeoutMs: options.checkTimeoutMs };
  const workload = createWorkload(options.workload, context);
  let recovery: Anomaly[] = [];
  try {
    await driver.start();
    await waitForAgreedLeader(driver, LEADER_DEADLINE_MS, interrupt).catch((error: unknown) => {
      throw new HarnessError(`the cluster did not come up (see ${join(options.out, "logs")}): ${error instanceof Error ? error.message : String(error)}`);
    });
    await workload.setup();
    recovery = await exercise(options, driver, workload, recorder, random, interrupt);
    if (interrupt.aborted) throw new HarnessError("interrupted");
    recovery.push(...driver.crashes().map((crash) => ({ kind: "member crashed", detail: `${crash} (see ${join(options.out, "logs")})` })));
  } finally {
    writeFileSync(join(options.out, "history.jsonl"), recorder.jsonl());
    await driver.teardown();
  }
  return report(options, workload, recorder, recovery);
}

/**
 * Clients and nemesis for the run's time, then healing and the final reads.
 * A cluster that cannot serve the final reads once healed is the store's
 * failure, not the harness's: it comes back as an anomaly.
 */
async function exercise(options: RunOptions, driver: ClusterDriver, workload: Workload, recorder: Recorder, random: Random, interrupt: AbortSignal): Promise<Anomaly[]> {
  const durationMs = options.timeSeconds * 1000;
  recorder.begin();
  const stop = abortWithAny(interrupt, abortAfter(durationMs).signal).signal;
  // Every client and the nemesis may be waiting on it at once.
  setMaxListeners(options.concurrency + 2, stop);
  const watchers = new AbortController();
  const background = workload.background?.(watchers.signal);
  const nemesis = faultInjector(options, driver, workload, recorder, random);
  const clients = Array.from({ length: options.concurrency }, (_, process): Client => ({
    process,
    url: driver.clientUrl(driver.nodes[process % driver.nodes.length]!),
    random: random.fork(),
    timeoutMs: options.opTimeoutMs,
  }));
  await Promise.all([nemesis.run(stop), ...clients.map((client) => clientLoop(workload, client, stop))]);
  await nemesis.healAll();
  try {
    if (interrupt.aborted) return [];
    await waitForAgreedLeader(driver, LEADER_DEADLINE_MS, interrupt);
    await workload.final();
    return [];
  } catch (error) {
    if (interrupt.aborted) return [];
    return [{ kind: "no recovery", detail: `after healing: ${error instanceof Error ? error.message : String(error)}` }];
  } finally {
    watchers.abort();
    await background;
  }
}

/** The random schedule of the chosen kinds, or the scenario asked for. */
function faultInjector(options: RunOptions, driver: ClusterDriver, workload: Workload, recorder: Recorder, random: Random): Nemesis | FigureEight {
  const nemesisRandom = random.fork();
  if (options.scenario === "figure8") return new FigureEight(driver, workload, recorder, nemesisRandom);
  const durationMs = options.timeSeconds * 1000;
  const faults = schedule({ kinds: options.nemesis, durationMs, nodes: driver.nodes.length, quietMs: options.faultIntervalMs, faultMs: options.faultIntervalMs }, random.fork());
  return new Nemesis(driver, recorder, nemesisRandom, faults);
}

async function clientLoop(workload: Workload, client: Client, stop: AbortSignal): Promise<void> {
  while (!stop.aborted) {
    const completion = await workload.step(client);
    if (completion.type !== "ok") await delay(BACKOFF_MS, stop);
  }
}

function report(options: RunOptions, workload: Workload, recorder: Recorder, recovery: readonly Anomaly[]): RunResult {
  const verdict = withAnomalies(workload.check(recorder.historyEvents()), recovery);
  const operations = timedOperations(recorder.events);
  const durationMs = recorder.events.at(-1)?.time ?? 0;
  const figures = availability(operations, 0, options.timeSeconds * 1000, OUTAGE_THRESHOLD_MS);
  const reportPath = join(options.out, "report.html");
  const settings = {
    workload: options.workload,
    nemesis: options.scenario ?? (options.nemesis.join(",") || "none"),
    nodes: String(options.nodes),
    time: `${options.timeSeconds} s`,
    seed: String(options.seed),
    concurrency: String(options.concurrency),
    "serve flags": [...TIMING_FLAGS, ...options.serveFlags].join(" "),
    "operations checked": String(verdict.operations),
  };
  const windows = nemesisWindows(recorder.events);
  writeFileSync(reportPath, renderReport({ title: `raftkv ${options.workload}`, settings, verdict, availability: figures, operations, windows, durationMs }));
  writeFileSync(join(options.out, "anomalies.json"), JSON.stringify(verdict, null, 2));
  // The members' data is only worth its space when something went wrong.
  if (verdict.valid === true) rmSync(join(options.out, "data"), { recursive: true, force: true });
  return { verdict, availability: figures, reportPath, historyPath: join(options.out, "history.jsonl") };
}

/** The Figure 8 scenario scripts three members, throttles a link, and needs a workload whose every step is a write. */
function checkFigureEight(options: RunOptions, driver: ClusterDriver): void {
  if (options.nodes !== 3) throw new HarnessError("the figure8 scenario needs --nodes 3");
  if (options.workload !== "set") throw new HarnessError("the figure8 scenario needs --workload set");
  if (driver.unsupported.has("throttle")) throw new HarnessError("the figure8 scenario needs a driver that can throttle links (the local one)");
}

/** Anomalies found outside the workload's check make the verdict invalid, whatever the check said. */
function withAnomalies(verdict: Verdict, anomalies: readonly Anomaly[]): Verdict {
  if (anomalies.length === 0) return verdict;
  return { ...verdict, valid: false, anomalies: [...anomalies, ...verdict.anomalies] };
}

async function createDriver(options: RunOptions): Promise<ClusterDriver> {
  if (options.driver === "docker") {
    if (options.nodes !== 3 && options.nodes !== 5) throw new HarnessError("the compose cluster has 3 or 5 nodes");
    return new DockerCluster({ size: options.nodes, composeFile: options.composeFile });
  }
  return LocalCluster.create({
    size: options.nodes,
    dir: options.out,
    serveFlags: [...TIMING_FLAGS, ...options.serveFlags],
    fakeClocks: options.nemesis.includes("clock"),
  });
}

function createWorkload(name: WorkloadName, context: WorkloadContext): Workload {
  switch (name) {
    case "register":
      return new RegisterWorkload(context);
    case "set":
      return new SetWorkload(context);
    case "lock":
      return new LockWorkload(context);
    case "watch":
      return new WatchWorkload(context);
    case "bank":
      return new BankWorkload(context);
  }
}
