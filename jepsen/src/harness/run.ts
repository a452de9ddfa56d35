/**
 * One test run, start to finish: start a cluster, run a workload's clients
 * while the nemesis works through its schedule, heal everything, make the
 * final reads, tear the cluster down, check the history, write the report.
 * The cluster is torn down however the run ends.
 */
import { setMaxListeners } from "node:events";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { availability, nemesisWindows, timedOperations, type Availability, type OutageRule } from "./availability.js";
import { HarnessError, readStatusAs, waitForAgreedLeader, type ClusterDriver, type OptionalFault } from "./cluster.js";
import { DockerCluster } from "./docker.js";
import { FigureEight } from "./figure-eight.js";
import { LeaderWatch } from "./leader-watch.js";
import { renderReport, seconds } from "./html.js";
import { Nemesis } from "./nemesis.js";
import { LocalCluster } from "./netns.js";
import { Random } from "./random.js";
import { Recorder } from "./recorder.js";
import { churnSchedule, schedule, type NemesisKind } from "./schedule.js";
import { memberCommand, timingFlags, type Target, type Timing } from "./targets.js";
import type { RunSummary } from "./compare.js";
import { abortAfter, abortWithAny, delay } from "./wait.js";
import { BankWorkload } from "./workloads/bank.js";
import { HotKeyWorkload } from "./workloads/hot-key.js";
import { LockWorkload } from "./workloads/lock.js";
import { RegisterWorkload } from "./workloads/register.js";
import { SetWorkload } from "./workloads/set.js";
import { AuthWorkload } from "./workloads/auth.js";
import { WatchWorkload } from "./workloads/watch.js";
import { GrpcApi } from "./workloads/grpc-store.js";
import { gatewayApi, nativeApi, type StoreApi } from "./workloads/store.js";
import type { Anomaly, Client, Verdict, Workload, WorkloadContext } from "./workloads/workload.js";

export const WORKLOADS = ["register", "set", "lock", "watch", "bank", "hot-key", "auth"] as const;
export type WorkloadName = (typeof WORKLOADS)[number];
/** Workloads that need raftkv's native API (its lock recipe), so cannot run against etcd. */
export const NATIVE_WORKLOADS: readonly WorkloadName[] = ["lock"];

/** How clients reach the store: HTTP (raftkv's native API and the etcd v3 gateway), or etcd's gRPC API. */
export const PROTOCOLS = ["http", "grpc"] as const;
export type Protocol = (typeof PROTOCOLS)[number];

/** A fault scenario run instead of the random schedule: scripted (figure8) or a fixed pace of faults (churn). */
export const SCENARIOS = ["figure8", "churn", "churn-pause"] as const;
export type Scenario = (typeof SCENARIOS)[number];

export interface RunOptions {
  /** Which store the members run. */
  readonly target: Target;
  readonly timing: Timing;
  readonly workload: WorkloadName;
  readonly protocol: Protocol;
  readonly nemesis: readonly NemesisKind[];
  readonly scenario?: Scenario;
  readonly timeSeconds: number;
  readonly nodes: number;
  readonly out: string;
  readonly seed: number;
  readonly concurrency: number;
  /** Flags added to every member's command line, after the timings. */
  readonly serveFlags: readonly string[];
  readonly driver: "local" | "docker";
  readonly composeFile: string;
  /** Docker driver: clients go through the load balancers' virtual IP, not to members. */
  readonly throughVirtualIp?: boolean;
  readonly opTimeoutMs: number;
  /** Mean length of quiet and of fault windows. */
  readonly faultIntervalMs: number;
  readonly checkTimeoutMs: number;
}

export interface RunResult {
  readonly verdict: Verdict;
  readonly availability: Availability;
  /** Under churn: the longest time no member said it led (see leader-watch.ts). */
  readonly longestLeaderlessMs?: number;
  /** Under churn: the same while a quorum of members answered. */
  readonly longestLeaderlessWithQuorumMs?: number;
  readonly reportPath: string;
  readonly historyPath: string;
}

const LEADER_DEADLINE_MS = 30_000;
/**
 * A 250 ms bucket with no success is down time. Under churn every such
 * bucket counts; the other workloads are too slow for that, so there an
 * outage must last several election timeouts.
 */
const CHURN_OUTAGES: OutageRule = { bucketMs: 250, minMs: 250 };
const FAULT_OUTAGES: OutageRule = { bucketMs: 250, minMs: 2_000 };
/** A client that failed waits this long before its next operation, so a dead member is not hammered. */
const BACKOFF_MS = 100;

/** Why a run cannot have a nemesis whose fault its driver lacks. */
const UNSUPPORTED: Readonly<Record<OptionalFault, string>> = {
  clock: "this driver cannot skew clocks",
  balancer: "this driver runs no load balancers",
  throttle: "this driver cannot throttle links",
  "disk-full": "this driver cannot fill a member's disk (the local driver can)",
  "disk-fail": "this driver cannot fail a member's disk (the local driver can)",
};

function isOptionalFault(kind: NemesisKind): kind is NemesisKind & OptionalFault {
  return kind in UNSUPPORTED;
}

export async function runTest(options: RunOptions, interrupt: AbortSignal): Promise<RunResult> {
  mkdirSync(options.out, { recursive: true });
  const random = new Random(options.seed);
  const driver = await createDriver(options);
  const lacking = options.nemesis.filter(isOptionalFault).find((fault) => driver.unsupported.has(fault));
  if (lacking !== undefined) throw new HarnessError(UNSUPPORTED[lacking]);
  if (options.scenario === "figure8") checkFigureEight(options, driver);
  if (options.target === "etcd") checkEtcd(options);
  if (options.workload === "auth" && options.protocol === "grpc") throw new HarnessError("the auth workload speaks the v3 gateway: drop --protocol grpc");
  const recorder = new Recorder();
  const store = storeApi(options);
  const context: WorkloadContext = { driver, recorder, store, random: random.fork(), timeoutMs: options.opTimeoutMs, checkTimeoutMs: options.checkTimeoutMs };
  const workload = createWorkload(options.workload, context);
  const leaderWatch = options.scenario === "churn" || options.scenario === "churn-pause" ? new LeaderWatch(driver, recorder) : undefined;
  let recovery: Anomaly[] = [];
  try {
    await driver.start();
    await waitForAgreedLeader(driver, LEADER_DEADLINE_MS, interrupt).catch((error: unknown) => {
      throw new HarnessError(`the cluster did not come up (see ${join(options.out, "logs")}): ${error instanceof Error ? error.message : String(error)}`);
    });
    await workload.setup();
    readStatusAs(workload.statusCredentials);
    recovery = await exercise(options, driver, workload, recorder, random, interrupt, leaderWatch);
    if (interrupt.aborted) throw new HarnessError("interrupted");
    recovery.push(...driver.crashes().map((crash) => ({ kind: "member crashed", detail: `${crash} (see ${join(options.out, "logs")})` })));
  } finally {
    readStatusAs(undefined);
    writeFileSync(join(options.out, "history.jsonl"), recorder.jsonl());
    store.close();
    await driver.teardown();
  }
  const result = report(options, workload, recorder, recovery, leaderWatch?.longestLeaderlessMs());
  return leaderWatch ? { ...result, longestLeaderlessWithQuorumMs: leaderWatch.longestLeaderlessWithQuorumMs() } : result;
}

/**
 * Clients and nemesis for the run's time, then healing and the final reads.
 * A cluster that cannot serve the final reads once healed is the store's
 * failure, not the harness's: it comes back as an anomaly.
 */
async function exercise(
  options: RunOptions,
  driver: ClusterDriver,
  workload: Workload,
  recorder: Recorder,
  random: Random,
  interrupt: AbortSignal,
  leaderWatch: LeaderWatch | undefined,
): Promise<Anomaly[]> {
  const durationMs = options.timeSeconds * 1000;
  recorder.begin();
  const stop = abortWithAny(interrupt, abortAfter(durationMs).signal).signal;
  // Every client, the nemesis and the leader watch may be waiting on it at once.
  setMaxListeners(options.concurrency + 3, stop);
  const watchers = new AbortController();
  const background = workload.background?.(watchers.signal);
  const nemesis = faultInjector(options, driver, workload, recorder, random);
  const clients = Array.from(
    { length: options.concurrency },
    (_, process): Client => ({
      process,
      url: driver.balancedUrl ?? driver.clientUrl(driver.nodes[process % driver.nodes.length]!),
      random: random.fork(),
      timeoutMs: options.opTimeoutMs,
    }),
  );
  await Promise.all([nemesis.run(stop), leaderWatch?.run(stop), ...clients.map((client) => clientLoop(workload, client, stop))]);
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
  if (options.scenario === "churn" || options.scenario === "churn-pause") {
    return new Nemesis(driver, recorder, nemesisRandom, churnSchedule(options.scenario === "churn" ? "kill" : "pause", durationMs, random.fork()));
  }
  const faults = schedule(
    { kinds: options.nemesis, durationMs, nodes: driver.nodes.length, quietMs: options.faultIntervalMs, faultMs: options.faultIntervalMs },
    random.fork(),
  );
  return new Nemesis(driver, recorder, nemesisRandom, faults);
}

async function clientLoop(workload: Workload, client: Client, stop: AbortSignal): Promise<void> {
  while (!stop.aborted) {
    const completion = await workload.step(client);
    if (completion.type !== "ok") await delay(workload.backoffMs ?? BACKOFF_MS, stop);
  }
}

function report(options: RunOptions, workload: Workload, recorder: Recorder, recovery: readonly Anomaly[], longestLeaderlessMs: number | undefined): RunResult {
  const verdict = withAnomalies(workload.check(recorder.historyEvents()), recovery);
  const operations = timedOperations(recorder.events);
  const durationMs = recorder.events.at(-1)?.time ?? 0;
  const outageRule = options.workload === "hot-key" ? CHURN_OUTAGES : FAULT_OUTAGES;
  const figures = availability(operations, 0, options.timeSeconds * 1000, outageRule);
  const reportPath = join(options.out, "report.html");
  const settings = {
    target: options.target,
    workload: options.workload,
    protocol: options.protocol,
    nemesis: options.scenario ?? (options.nemesis.join(",") || "none"),
    nodes: String(options.nodes),
    time: `${options.timeSeconds} s`,
    seed: String(options.seed),
    concurrency: String(options.concurrency),
    "op timeout": `${options.opTimeoutMs} ms`,
    "member flags": [...timingFlags(options.timing), ...options.serveFlags].join(" "),
    "operations checked": String(verdict.operations),
    ...(longestLeaderlessMs !== undefined && { "longest time without a leader": seconds(longestLeaderlessMs) }),
  };
  const windows = nemesisWindows(recorder.events);
  const title = `${options.target} ${options.workload}`;
  writeFileSync(reportPath, renderReport({ title, settings, verdict, availability: figures, operations, windows, durationMs }));
  const summary: RunSummary = {
    label: `${options.target} seed ${options.seed}`,
    settings,
    valid: verdict.valid,
    anomalies: verdict.anomalies.length,
    durationMs: options.timeSeconds * 1000,
    outageRule,
    ...(longestLeaderlessMs !== undefined && { longestLeaderlessMs }),
  };
  writeFileSync(join(options.out, "run.json"), JSON.stringify(summary, null, 2));
  writeFileSync(join(options.out, "anomalies.json"), JSON.stringify(verdict, null, 2));
  // The members' data is only worth its space when something went wrong.
  if (verdict.valid === true) rmSync(join(options.out, "data"), { recursive: true, force: true });
  return { verdict, availability: figures, longestLeaderlessMs, reportPath, historyPath: join(options.out, "history.jsonl") };
}

/** The Figure 8 scenario scripts three members, throttles a link, and needs a workload whose every step is a write. */
function checkFigureEight(options: RunOptions, driver: ClusterDriver): void {
  if (options.nodes !== 3) throw new HarnessError("the figure8 scenario needs --nodes 3");
  if (options.workload !== "set") throw new HarnessError("the figure8 scenario needs --workload set");
  if (driver.unsupported.has("throttle")) throw new HarnessError("the figure8 scenario needs a driver that can throttle links (the local one)");
}

/** etcd is driven through its v3 gateway or gRPC; the Figure 8 scenario exists to catch one of raftkv's --unsafe-bugs. */
function checkEtcd(options: RunOptions): void {
  if (NATIVE_WORKLOADS.includes(options.workload)) throw new HarnessError(`--target etcd cannot run ${options.workload}: it uses raftkv's native API`);
  if (options.scenario === "figure8") throw new HarnessError("the figure8 scenario needs raftkv's --unsafe-bugs");
}

/** Anomalies found outside the workload's check make the verdict invalid, whatever the check said. */
function withAnomalies(verdict: Verdict, anomalies: readonly Anomaly[]): Verdict {
  if (anomalies.length === 0) return verdict;
  return { ...verdict, valid: false, anomalies: [...anomalies, ...verdict.anomalies] };
}

async function createDriver(options: RunOptions): Promise<ClusterDriver> {
  if (options.driver === "docker") {
    if (options.target !== "raftkv") throw new HarnessError("the docker driver runs raftkv only");
    if (options.nodes !== 3 && options.nodes !== 5) throw new HarnessError("the compose cluster has 3 or 5 nodes");
    return new DockerCluster({
      size: options.nodes,
      composeFile: options.composeFile,
      throughVirtualIp: options.throughVirtualIp,
      logDir: join(options.out, "logs"),
    });
  }
  return LocalCluster.create({
    size: options.nodes,
    dir: options.out,
    command: memberCommand(options.target, options.timing, options.serveFlags),
    fakeClocks: options.nemesis.includes("clock"),
    disks: { full: options.nemesis.includes("disk-full"), fail: options.nemesis.includes("disk-fail") },
  });
}

/**
 * gRPC when asked for; otherwise HTTP, with single keys on raftkv's native
 * API except where only the gateway will do (etcd, and hot-key, which was
 * made to run on both as it is).
 */
function storeApi(options: RunOptions): StoreApi {
  if (options.protocol === "grpc") return new GrpcApi();
  return options.target === "etcd" || options.workload === "hot-key" ? gatewayApi : nativeApi;
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
    case "hot-key":
      return new HotKeyWorkload(context);
    case "auth":
      return new AuthWorkload(context);
  }
}
