/** The command line of `pnpm --filter @raftkv/bench growth`. */
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import type { System } from "./clusters.js";
import { list, positive } from "./throughput/options.js";

const BENCH_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

/** etcd 3.4 keeps this many entries below a snapshot for slow followers, and has no flag for it. */
export const ETCD_CATCHUP_ENTRIES = 5000;

export const USAGE = `usage: growth [options]
  --sizes LIST          key counts to grow the store to, in order (default 10000,100000,1000000; smoke 200,400)
  --systems LIST        raftkv,etcd (default both, etcd only where installed; smoke raftkv)
  --duration S          seconds measured per put and range row (default 10; smoke 1)
  --warmup S            seconds of discarded load before each row (default 2; smoke 1)
  --connections N       connections of the put and range rows (default 64; smoke 8)
  --restarts N          restarts timed per size, the median reported (default 3; smoke 1)
  --snapshot-count N    --snapshot-count of every member of both systems (default 100000, both defaults; smoke 300)
  --catchup-entries N   entries a leader keeps below a snapshot (default ${ETCD_CATCHUP_ENTRIES}, etcd 3.4's fixed value;
                        other values are for raftkv alone; smoke 50)
  --node-flags=LIST     comma-separated Node.js flags for raftkv members, e.g. --node-flags=--max-semi-space-size=4
  --env LIST            comma-separated NAME=VALUE for raftkv members, e.g. MALLOC_ARENA_MAX=2
  --out DIR             where RESULTS.md and results/ go (default bench/; smoke: a temp dir)
  --base-port N         raftkv members listen from N, etcd from N+1000 (default 25000; below the ephemeral ports, which any connection may hold)`;

export interface GrowthOptions {
  readonly sizes: readonly number[];
  readonly systems: readonly System[];
  readonly durationS: number;
  readonly warmupS: number;
  readonly connections: number;
  readonly restarts: number;
  readonly snapshotCount: number;
  readonly catchupEntries: number;
  readonly smoke: boolean;
  readonly outDir: string;
  readonly basePort: number;
  /** How raftkv members are launched beyond the defaults, to try V8 and allocator settings. */
  readonly nodeFlags: readonly string[];
  readonly env: Readonly<Record<string, string>>;
}

export function parseGrowthOptions(argv: readonly string[], etcdAvailable: boolean): GrowthOptions {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      sizes: { type: "string" },
      systems: { type: "string" },
      duration: { type: "string" },
      warmup: { type: "string" },
      connections: { type: "string" },
      restarts: { type: "string" },
      "snapshot-count": { type: "string" },
      "catchup-entries": { type: "string" },
      smoke: { type: "boolean", default: false },
      out: { type: "string" },
      "base-port": { type: "string" },
      "node-flags": { type: "string" },
      env: { type: "string" },
    },
  });
  const smoke = values.smoke;
  const options: GrowthOptions = {
    sizes: list(values.sizes ?? (smoke ? "200,400" : "10000,100000,1000000")).map((text) => positive(text, USAGE)),
    systems: list(values.systems ?? (etcdAvailable && !smoke ? "raftkv,etcd" : "raftkv")).map(system),
    durationS: positive(values.duration ?? (smoke ? "1" : "10"), USAGE),
    warmupS: positive(values.warmup ?? (smoke ? "1" : "2"), USAGE),
    connections: positive(values.connections ?? (smoke ? "8" : "64"), USAGE),
    restarts: positive(values.restarts ?? (smoke ? "1" : "3"), USAGE),
    snapshotCount: positive(values["snapshot-count"] ?? (smoke ? "300" : "100000"), USAGE),
    catchupEntries: positive(values["catchup-entries"] ?? (smoke ? "50" : String(ETCD_CATCHUP_ENTRIES)), USAGE),
    smoke,
    outDir: resolve(values.out ?? (smoke ? join(tmpdir(), "raftkv-bench-growth-smoke") : BENCH_DIR)),
    basePort: positive(values["base-port"] ?? "25000", USAGE),
    nodeFlags: list(values["node-flags"] ?? ""),
    env: Object.fromEntries(list(values.env ?? "").map((text) => assignment(text))),
  };
  if (options.systems.includes("etcd") && options.catchupEntries !== ETCD_CATCHUP_ENTRIES) {
    throw new Error(`etcd 3.4 keeps ${ETCD_CATCHUP_ENTRIES} entries below a snapshot; measuring it needs --catchup-entries ${ETCD_CATCHUP_ENTRIES}\n${USAGE}`);
  }
  if (options.sizes.some((size, i) => i > 0 && size <= options.sizes[i - 1]!)) throw new Error(`--sizes must grow: ${options.sizes.join(",")}\n${USAGE}`);
  return options;
}

/** NAME=VALUE of an --env list. */
export function assignment(text: string, usage = USAGE): [string, string] {
  const at = text.indexOf("=");
  if (at <= 0) throw new Error(`expected NAME=VALUE, got "${text}"\n${usage}`);
  return [text.slice(0, at), text.slice(at + 1)];
}

function system(name: string): System {
  if (name !== "raftkv" && name !== "etcd") throw new Error(`"${name}" is not one of raftkv, etcd\n${USAGE}`);
  return name;
}
