/**
 * `raftkv check perf`: etcdctl's quick verdict on whether a cluster keeps up
 * with a given write load. Puts under a prefix of their own at the load's
 * rate for a fixed time, prints throughput and latency percentiles and
 * PASS or FAIL (exit code 1) against etcdctl's thresholds, then deletes what
 * it wrote. Speed is for benchmarks (bench/) to measure; this is a health check.
 */
import { randomBytes } from "node:crypto";
import { Option, type Command } from "commander";
import { duration } from "../arguments.js";
import { SilentExit, UsageError } from "../errors.js";
import { show } from "../output.js";
import { LOAD_PROFILES, checksOf, runPutLoad, summarize, type Check, type LoadName, type LoadSummary } from "../put-load.js";
import { withClient, type Session } from "../session.js";

interface PerfFlags {
  readonly load: LoadName;
  readonly prefix: string;
  readonly duration: number;
  readonly autoCompact?: boolean;
}

/** The size of each value written: small, as configuration entries and lock keys are. */
const VALUE_BYTES = 256;

const EXAMPLES = `
Loads (etcdctl's): s 150 writes/s from 50 clients, m 1000/200, l 8000/500, xl 15000/1000.
PASS needs throughput of at least 90 % of the load's rate, no write slower than
0.5 s, and a standard deviation of at most 0.1 s.

Examples:
  raftkv check perf                    the small load for 60 s
  raftkv check perf --load m --duration 20s`;

export function registerCheck(program: Command): void {
  const check = program.command("check").description("check the cluster against a workload");
  check
    .command("perf")
    .description("run a write load for a fixed time and say PASS or FAIL, as etcdctl check perf does")
    .addOption(new Option("--load <size>", "the workload: s, m, l or xl").choices(Object.keys(LOAD_PROFILES)).default("s"))
    .option("--prefix <prefix>", "where to write (must hold no keys; emptied afterwards)", "/raftkv-check-perf/")
    .addOption(new Option("--duration <duration>", "how long to run the load").argParser(duration).default(duration("60s"), "60s"))
    .option("--auto-compact", "compact the history the check wrote, once it is done")
    .addHelpText("after", EXAMPLES)
    .action((flags: PerfFlags, command: Command) => withClient(command, (session) => perf(session, flags)));
}

async function perf({ client, options }: Session, flags: PerfFlags): Promise<void> {
  const present = await client.kv.get(flags.prefix, { prefix: true, countOnly: true });
  if (present.count > 0) throw new UsageError(`prefix ${flags.prefix} holds ${present.count} keys; delete them first (raftkv del --prefix ${flags.prefix})`);
  const profile = LOAD_PROFILES[flags.load];
  const value = randomBytes(VALUE_BYTES / 2).toString("hex");
  const put = async (sequence: number): Promise<void> => void (await client.kv.put(`${flags.prefix}${sequence.toString(16).padStart(8, "0")}`, value));
  const run = await runPutLoad(put, profile, flags.duration).finally(async () => {
    const cleared = await client.kv.delete(flags.prefix, { prefix: true });
    if (flags.autoCompact) await client.kv.compact(cleared.header.revision);
  });
  const summary = summarize(run);
  const checks = checksOf(summary, profile, run.errors);
  const pass = checks.every((each) => each.pass);
  show(options.writeOut, {
    json: () => ({ load: flags.load, ...profile, ...summary, checks, pass }),
    simple: () => reportLines(summary, checks, pass),
  });
  if (!pass) throw new SilentExit(1);
}

function reportLines(summary: LoadSummary, checks: readonly Check[], pass: boolean): string[] {
  const { latency } = summary;
  return [
    `${summary.writes} writes in ${summary.seconds.toFixed(1)}s (${summary.errors} failed)`,
    `Latency: p50 ${latency.p50.toFixed(4)}s, p90 ${latency.p90.toFixed(4)}s, p99 ${latency.p99.toFixed(4)}s, p99.9 ${latency.p999.toFixed(4)}s, mean ${latency.mean.toFixed(4)}s`,
    ...checks.map((each) => `${each.pass ? "PASS" : "FAIL"}: ${each.message}`),
    pass ? "PASS" : "FAIL",
  ];
}
