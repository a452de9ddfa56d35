/**
 * The command line of the bench's CPU probes (follower-cpu, hot-key-cpu):
 * a bad option is said in one line with the probe's usage and exit status
 * 2, never as a stack; any other failure keeps its stack and exits 1.
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import type { System } from "./clusters.js";

/** A command line this probe cannot run: said in one line with the usage, no stack. */
export class UsageError extends Error {}

/** node:util's parseArgs, whose refusals become usage errors. */
export function parseProbeArgs<T extends ParseArgsConfig>(config: T): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config);
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}

/** A whole number of at least `least` given to `flag`. */
export function wholeNumber(flag: string, text: string, least: number): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < least) throw new UsageError(`${flag}: a whole number of at least ${least}, not ${text}`);
  return value;
}

export function probeSystem(text: string | undefined): System {
  if (text !== "raftkv" && text !== "etcd") throw new UsageError(`--system: raftkv or etcd, not ${text}`);
  return text;
}

/** Runs a probe's main: `--help` is its caller's to answer; a usage error prints `usage`. */
export function runProbe(name: string, usage: string, main: () => Promise<void>): void {
  main().catch((error: unknown) => {
    console.error(error instanceof UsageError ? `${name}: ${error.message}\n${usage}` : error);
    process.exitCode = error instanceof UsageError ? 2 : 1;
  });
}
