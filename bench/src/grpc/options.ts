/** The command line of `pnpm --filter @raftkv/bench grpc`, and the rows it can measure. */
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import type { System } from "../clusters.js";

const RESULTS_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "../../../results");

export const DEFAULT_ROWS = "put:1,put:64,put:256,range:64,serializable:64,watch";

export const USAGE = `usage: grpc [options]
  --duration S        seconds measured per row (default 10; smoke 1)
  --warmup S          seconds of discarded load before each row (default 2; smoke 1)
  --rows LIST         of put:N, range:N (linearizable), serializable:N with N requests in flight,
                      and watch (default ${DEFAULT_ROWS})
  --watchers N        watchers of the one key in the watch row (default 1000; smoke 100)
  --connections N     HTTP/2 connections per row, requests spread evenly over them; the watch
                      row opens one stream on each (default 4)
  --workers N         load-generating worker threads of the Node generator (default 2)
  --generator NAME    node (default: grpc-js in worker threads of this process) or clientv3
                      (bench/clientv3-load, Go on etcd's clientv3, built on first use; needs
                      apt-get install -y golang-go golang-etcd-server-dev); one generator drives both systems
  --systems LIST      raftkv,etcd (default both, etcd only where installed)
  --keyspace N        distinct keys (default 10000; smoke 100)
  --smoke             1 s warm-up and 1 s measured per row, to keep the command working
  --out DIR           where grpc.md and grpc.json go (default bench/results; smoke: a temp dir)
  --profile DIR       run raftkv members under node --cpu-prof, profiles in DIR
  --security MODE     plain (default), tls (client TLS, the same throw-away CA's certificate on both
                      systems) or tls+auth (and auth on, every call with root's token)
  --base-port N       raftkv members listen from N, etcd from N+1000 (default 23000; below the ephemeral ports, which any connection may hold)`;

export type RowSpec = { readonly kind: "put" | "range" | "serializable"; readonly concurrency: number } | { readonly kind: "watch"; readonly watchers: number };

export interface Options {
  readonly durationS: number;
  readonly warmupS: number;
  readonly rows: readonly RowSpec[];
  readonly connections: number;
  readonly workers: number;
  readonly systems: readonly System[];
  readonly keyspace: number;
  readonly outDir: string;
  readonly basePort: number;
  readonly profileDir: string | undefined;
  readonly security: SecurityMode;
  readonly generator: Generator;
}

export const GENERATORS = ["node", "clientv3"] as const;
export type Generator = (typeof GENERATORS)[number];

export const SECURITY_MODES = ["plain", "tls", "tls+auth"] as const;
export type SecurityMode = (typeof SECURITY_MODES)[number];

export function parseOptions(argv: readonly string[], etcdAvailable: boolean): Options {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      duration: { type: "string" },
      warmup: { type: "string" },
      rows: { type: "string" },
      watchers: { type: "string" },
      connections: { type: "string" },
      workers: { type: "string" },
      systems: { type: "string" },
      keyspace: { type: "string" },
      smoke: { type: "boolean", default: false },
      out: { type: "string" },
      "base-port": { type: "string" },
      profile: { type: "string" },
      security: { type: "string" },
      generator: { type: "string" },
    },
  });
  const smoke = values.smoke;
  const watchers = positive(values.watchers ?? (smoke ? "100" : "1000"));
  return {
    durationS: seconds(values.duration ?? (smoke ? "1" : "10")),
    warmupS: seconds(values.warmup ?? (smoke ? "1" : "2")),
    rows: list(values.rows ?? DEFAULT_ROWS).map((text) => parseRow(text, watchers)),
    connections: positive(values.connections ?? "4"),
    workers: positive(values.workers ?? "2"),
    systems: list(values.systems ?? (etcdAvailable ? "raftkv,etcd" : "raftkv")).map(parseSystem),
    keyspace: positive(values.keyspace ?? (smoke ? "100" : "10000")),
    outDir: resolve(values.out ?? (smoke ? join(tmpdir(), "raftkv-bench-grpc-smoke") : RESULTS_DIR)),
    basePort: positive(values["base-port"] ?? "23000"),
    profileDir: values.profile === undefined ? undefined : resolve(values.profile),
    security: oneOf(SECURITY_MODES, "--security", values.security ?? "plain"),
    generator: oneOf(GENERATORS, "--generator", values.generator ?? "node"),
  };
}

function parseRow(text: string, watchers: number): RowSpec {
  if (text === "watch") return { kind: "watch", watchers };
  const [kind, concurrency] = text.split(":");
  if ((kind === "put" || kind === "range" || kind === "serializable") && concurrency !== undefined) return { kind, concurrency: positive(concurrency) };
  throw new Error(`"${text}" is not a row\n${USAGE}`);
}

export function parseSystem(name: string): System {
  if (name === "raftkv" || name === "etcd") return name;
  throw new Error(`"${name}" is not raftkv or etcd\n${USAGE}`);
}

function list(text: string): string[] {
  return text
    .split(",")
    .map((item) => item.trim())
    .filter((item) => item !== "");
}

function seconds(text: string): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`expected a positive number of seconds, got "${text}"\n${USAGE}`);
  return n;
}

export function positive(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`expected a positive whole number, got "${text}"\n${USAGE}`);
  return n;
}

/** How a row is named in the table. */
export function rowTitle(row: RowSpec): string {
  switch (row.kind) {
    case "put":
      return `put, ${row.concurrency} in flight`;
    case "range":
      return `linearizable range, ${row.concurrency} in flight`;
    case "serializable":
      return `serializable range, ${row.concurrency} in flight`;
    case "watch":
      return `watch fan-out, ${row.watchers} watchers (events/s, delay)`;
  }
}

function oneOf<T extends string>(known: readonly T[], option: string, text: string): T {
  const found = known.find((candidate) => candidate === text);
  if (found === undefined) throw new Error(`${option} takes ${known.join(", ")}, not "${text}"\n${USAGE}`);
  return found;
}
