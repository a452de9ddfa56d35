/**
 * raftkv-jepsen: runs a workload against a real cluster under faults and
 * checks what the clients saw.
 * Exit status 0 when the check passes, 1 on anomalies, 2 when the harness
 * could not run or the check could not decide.
 */
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { HarnessError } from "./cluster.js";
import { loadRun, markdownPhaseRows, markdownRows, renderComparison } from "./compare.js";
import { availabilityRows, seconds } from "./html.js";
import { cleanupLocalClusters } from "./netns.js";
import { PROTOCOLS, runTest, SCENARIOS, WORKLOADS, type RunOptions, type Scenario } from "./run.js";
import { parseNemesis } from "./schedule.js";
import { DEFAULT_TIMING, TARGETS } from "./targets.js";

export const USAGE = `Usage: node jepsen/dist/src/harness/main.js [options]
       node jepsen/dist/src/harness/main.js --cleanup
       node jepsen/dist/src/harness/main.js compare <run dir> <run dir>... [--out page.html]

Runs a workload against a real raftkv cluster while a nemesis injects faults,
then checks the history and writes history.jsonl, report.html and run.json.
\`compare\` puts runs side by side (figures, latencies, one timeline) in one page.

Options:
  --target <store>       ${TARGETS.join(" | ")}: what the members run (default raftkv); etcd runs every workload but lock
  --workload <name>      ${WORKLOADS.join(" | ")} (default register)
  --protocol <wire>      ${PROTOCOLS.join(" | ")}: raftkv's native API and the etcd v3 gateway, or etcd's gRPC API (default http;
                         lock's acquire and release stay on the native API)
  --nemesis <kinds>      kill,pause,partition,clock,member,balancer,disk-full,disk-fail joined by commas,
                         all (kill,pause,partition) or none (default partition,kill);
                         churn (kill a random member every 1.5-2.5 s, restart it 0.8-1.5 s later) or churn-pause (SIGSTOP/SIGCONT);
                         or figure8, a scripted scenario for --workload set on 3 nodes (see README)
  --time <s>             how long clients run under faults (default 60)
  --nodes <n>            cluster size (default 3; the docker driver has 3 or 5)
  --out <dir>            where the history, report and logs go (default a fresh temp dir)
  --seed <n>             replays the same schedule and operation mix (default random)
  --concurrency <n>      client processes (default twice the nodes; 8 for hot-key)
  --serve-flag <flag>    passed to every member, e.g. --serve-flag=--unsafe-bugs=local-reads (repeatable)
  --election-timeout <ms> every member's election timeout; the heartbeat is a tenth of it (default ${DEFAULT_TIMING.electionMs})
  --driver <name>        local (network namespaces, needs root) | docker (default local)
  --compose-file <path>  for the docker driver (default docker-compose.yml)
  --through-virtual-ip   docker driver: clients reach the members through the load balancers' virtual IP
  --op-timeout <ms>      a request taking longer is recorded as info (default 1000; 400 for hot-key)
  --fault-interval <s>   mean length of quiet and of fault windows (default 5)
  --check-timeout <s>    how long the linearizability search may take (default 120)
  --cleanup              remove namespaces and bridges left by earlier local runs, then exit
  -h, --help             print this help

Exit status: 0 no anomaly, 1 anomalies, 2 harness error or undecided check.
`;

export enum ExitCode {
  Valid = 0,
  Anomalies = 1,
  HarnessFailure = 2,
}

export async function main(args: readonly string[]): Promise<ExitCode> {
  try {
    if (args[0] === "compare") return compare(args.slice(1));
    const { values } = parseArgs({ args: [...args], options: OPTIONS, strict: true });
    if (values.help) {
      process.stdout.write(USAGE);
      return ExitCode.Valid;
    }
    if (values.cleanup) {
      const removed = await cleanupLocalClusters();
      process.stdout.write(removed.length === 0 ? "nothing to clean up\n" : `removed ${removed.join(", ")}\n`);
      return ExitCode.Valid;
    }
    return await run(runOptions(values));
  } catch (error) {
    process.stderr.write(`raftkv-jepsen: ${error instanceof Error ? error.message : String(error)}\n`);
    if (!(error instanceof HarnessError) && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
    return ExitCode.HarnessFailure;
  }
}

const OPTIONS = {
  target: { type: "string", default: "raftkv" },
  workload: { type: "string", default: "register" },
  protocol: { type: "string", default: "http" },
  nemesis: { type: "string", default: "partition,kill" },
  time: { type: "string", default: "60" },
  nodes: { type: "string", default: "3" },
  out: { type: "string" },
  seed: { type: "string" },
  concurrency: { type: "string" },
  "serve-flag": { type: "string", multiple: true, default: [] as string[] },
  driver: { type: "string", default: "local" },
  "compose-file": { type: "string", default: "docker-compose.yml" },
  "through-virtual-ip": { type: "boolean", default: false },
  "op-timeout": { type: "string" },
  "election-timeout": { type: "string", default: String(DEFAULT_TIMING.electionMs) },
  "fault-interval": { type: "string", default: "5" },
  "check-timeout": { type: "string", default: "120" },
  cleanup: { type: "boolean", default: false },
  help: { type: "boolean", short: "h", default: false },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS }>>["values"];

function runOptions(values: Values): RunOptions {
  const workload = oneOf("--workload", WORKLOADS, values.workload);
  const nodes = positive("--nodes", values.nodes);
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  const hotKey = workload === "hot-key";
  const electionMs = positive("--election-timeout", values["election-timeout"]);
  return {
    target: oneOf("--target", TARGETS, values.target),
    timing: { electionMs, heartbeatMs: Math.max(1, Math.round(electionMs / 10)) },
    workload,
    protocol: oneOf("--protocol", PROTOCOLS, values.protocol),
    ...nemesisOptions(values.nemesis),
    timeSeconds: positive("--time", values.time),
    nodes,
    out: resolve(values.out ?? join(tmpdir(), "raftkv-jepsen", `${stamp}-${workload}`)),
    seed: values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : positive("--seed", values.seed),
    concurrency: values.concurrency === undefined ? (hotKey ? HOT_KEY_CLIENTS : 2 * nodes) : positive("--concurrency", values.concurrency),
    serveFlags: values["serve-flag"],
    driver: oneOf("--driver", ["local", "docker"] as const, values.driver),
    composeFile: resolve(values["compose-file"]),
    throughVirtualIp: values["through-virtual-ip"],
    opTimeoutMs: positive("--op-timeout", values["op-timeout"] ?? String(hotKey ? HOT_KEY_DEADLINE_MS : 1000)),
    faultIntervalMs: positive("--fault-interval", values["fault-interval"]) * 1000,
    checkTimeoutMs: positive("--check-timeout", values["check-timeout"]) * 1000,
  };
}

/** The load of issue 15's churn measurements: 8 clients, each giving up on a request after 400 ms. */
const HOT_KEY_CLIENTS = 8;
const HOT_KEY_DEADLINE_MS = 400;

/** `figure8` and `churn…` name scenarios; anything else is a list of kinds for the random schedule. */
function nemesisOptions(spec: string): Pick<RunOptions, "nemesis" | "scenario"> {
  return SCENARIOS.includes(spec as Scenario) ? { nemesis: [], scenario: spec as Scenario } : { nemesis: parseNemesis(spec) };
}

/** `compare <dir>... [--out page]`: writes the side-by-side page and prints a Markdown row per run, then one per run and phase. */
function compare(args: readonly string[]): ExitCode {
  const { values, positionals } = parseArgs({ args: [...args], options: { out: { type: "string" } }, allowPositionals: true, strict: true });
  if (positionals.length < 1) throw new HarnessError("compare needs the directories of the runs to compare");
  const runs = positionals.map((dir) => loadRun(resolve(dir)));
  const out = resolve(values.out ?? join(positionals[0]!, "..", "compare.html"));
  writeFileSync(out, renderComparison(runs));
  process.stdout.write(`${markdownRows(runs)}\n${markdownPhaseRows(runs)}comparison: ${out}\n`);
  return ExitCode.Valid;
}

async function run(options: RunOptions): Promise<ExitCode> {
  const interrupt = new AbortController();
  const onSignal = () => interrupt.abort();
  // Kept for the whole run: a second signal must not kill the harness before it tears the cluster down.
  process.on("SIGINT", onSignal).on("SIGTERM", onSignal);
  try {
    process.stdout.write(
      `raftkv-jepsen: ${options.target} ${options.workload} over ${options.protocol} under ${options.scenario ?? (options.nemesis.join(",") || "no faults")}, ${options.nodes} nodes, ${options.timeSeconds} s, seed ${options.seed}, out ${options.out}\n`,
    );
    const result = await runTest(options, interrupt.signal);
    process.stdout.write(summary(result.verdict.valid, result.verdict.operations, result.verdict.anomalies.length));
    for (const anomaly of result.verdict.anomalies.slice(0, 10)) process.stdout.write(`  ${anomaly.kind}: ${anomaly.detail}\n`);
    for (const [name, value] of Object.entries(availabilityRows(result.availability))) process.stdout.write(`  ${name}: ${value}\n`);
    if (result.longestLeaderlessMs !== undefined) process.stdout.write(`  longest time without a leader: ${seconds(result.longestLeaderlessMs)}\n`);
    if (result.longestLeaderlessWithQuorumMs !== undefined) {
      process.stdout.write(`  longest time without a leader while a quorum answered: ${seconds(result.longestLeaderlessWithQuorumMs)}\n`);
    }
    process.stdout.write(`  history: ${result.historyPath}\n  report: ${result.reportPath}\n`);
    if (result.verdict.valid === "unknown") return ExitCode.HarnessFailure;
    return result.verdict.valid ? ExitCode.Valid : ExitCode.Anomalies;
  } finally {
    process.off("SIGINT", onSignal).off("SIGTERM", onSignal);
  }
}

function summary(valid: boolean | "unknown", operations: number, anomalies: number): string {
  const verdict = valid === true ? "VALID" : valid === false ? "INVALID" : "UNKNOWN (the check could not decide)";
  return `${verdict}: ${operations} operations checked, ${anomalies} anomalies\n`;
}

function positive(flag: string, text: string): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value <= 0) throw new HarnessError(`${flag} needs a positive whole number, not ${JSON.stringify(text)}`);
  return value;
}

function oneOf<T extends string>(flag: string, allowed: readonly T[], text: string): T {
  if (!allowed.includes(text as T)) throw new HarnessError(`${flag} must be one of ${allowed.join(", ")}, not ${JSON.stringify(text)}`);
  return text as T;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === resolve(new URL(import.meta.url).pathname)) {
  process.exit(await main(process.argv.slice(2)));
}
