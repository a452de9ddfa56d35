/**
 * Server CPU and memory, read from /proc the way `top` does, so that a Go
 * process and a Node.js process are measured alike.
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";

const CLOCK_TICKS_PER_S = Number(getconf("CLK_TCK") ?? 100);
const PAGE_BYTES = Number(getconf("PAGESIZE") ?? 4096);

function getconf(name: string): string | undefined {
  const result = spawnSync("getconf", [name], { encoding: "utf8" });
  return result.status === 0 ? result.stdout.trim() : undefined;
}

export interface ProcSample {
  /** User plus system CPU time so far, in seconds. */
  readonly cpuS: number;
  readonly rssBytes: number;
  readonly at: number;
}

export function sampleProcess(pid: number): ProcSample {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // The command name (field 2) may hold spaces; the fields after its ")" are plain.
  // After it come state (3) ... utime (14), stime (15) ... rss (24).
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const field = (n: number): number => Number(fields[n - 3]);
  return { cpuS: (field(14) + field(15)) / CLOCK_TICKS_PER_S, rssBytes: field(24) * PAGE_BYTES, at: performance.now() };
}

/** CPU use between two samples of one process, in percent of one core. */
export function cpuPercent(before: ProcSample, after: ProcSample): number {
  return ((after.cpuS - before.cpuS) / ((after.at - before.at) / 1000)) * 100;
}
