/** The command line of `pnpm --filter @raftkv/bench throughput`. */
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import type { System } from "../clusters.js";
import { WORKLOADS, type Workload } from "./workloads.js";

const BENCH_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");

export const USAGE = `usage: throughput [options]
  --duration S        seconds measured per row (default 10; smoke 1)
  --warmup S          seconds of discarded load before each row (default 2; smoke 1)
  --connections LIST  comma-separated connection counts (default 1,16,64,256; smoke 1,16)
  --workloads LIST    of ${WORKLOADS.join(",")} (default all)
  --systems LIST      raftkv,etcd (default both, etcd only where installed)
  --keyspace N        distinct keys (default 10000; smoke 100)
  --smoke             a few seconds in all, to keep the command working
  --profile DIR       run raftkv members under node --cpu-prof, profiles in DIR
  --out DIR           where RESULTS.md and results/ go (default bench/; smoke: a temp dir; profile: DIR)
  --base-port N       raftkv members listen from N, etcd from N+1000 (default 21000; below the ephemeral ports, which any connection may hold)`;

export interface Options {
  readonly durationS: number;
  readonly warmupS: number;
  readonly connections: readonly number[];
  readonly workloads: readonly Workload[];
  readonly systems: readonly System[];
  readonly keyspace: number;
  readonly smoke: boolean;
  readonly profileDir: string | undefined;
  readonly outDir: string;
  readonly basePort: number;
}

export function parseOptions(argv: readonly string[], etcdAvailable: boolean): Options {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      duration: { type: "string" },
      warmup: { type: "string" },
      connections: { type: "string" },
      workloads: { type: "string" },
      systems: { type: "string" },
      keyspace: { type: "string" },
      smoke: { type: "boolean", default: false },
      profile: { type: "string" },
      out: { type: "string" },
      "base-port": { type: "string" },
    },
  });
  const smoke = values.smoke;
  const profileDir = values.profile === undefined ? undefined : resolve(values.profile);
  const defaultOut = smoke ? join(tmpdir(), "raftkv-bench-smoke") : (profileDir ?? BENCH_DIR);
  return {
    // Whole seconds, as wrk takes them.
    durationS: positive(values.duration ?? (smoke ? "1" : "10")),
    warmupS: positive(values.warmup ?? (smoke ? "1" : "2")),
    connections: list(values.connections ?? (smoke ? "1,16" : "1,16,64,256")).map((text) => positive(text)),
    workloads: list(values.workloads ?? WORKLOADS.join(",")).map((name) => oneOf(name, WORKLOADS)),
    systems: list(values.systems ?? (etcdAvailable ? "raftkv,etcd" : "raftkv")).map((name) => oneOf(name, ["raftkv", "etcd"] as const)),
    keyspace: positive(values.keyspace ?? (smoke ? "100" : "10000")),
    smoke,
    profileDir,
    outDir: resolve(values.out ?? defaultOut),
    basePort: positive(values["base-port"] ?? "21000"),
  };
}

export function list(text: string): string[] {
  return text
    .split(",")
    .map((item) => item.trim())
    .filter((item) => item !== "");
}

export function positive(text: string, usage = USAGE): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`expected a positive whole number, got "${text}"\n${usage}`);
  return n;
}

function oneOf<T extends string>(name: string, allowed: readonly T[]): T {
  const found = allowed.find((candidate) => candidate === name);
  if (found === undefined) throw new Error(`"${name}" is not one of ${allowed.join(", ")}\n${USAGE}`);
  return found;
}
