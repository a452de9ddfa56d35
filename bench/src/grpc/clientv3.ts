/**
 * The rows of `bench grpc --generator clientv3`: each row is one run of
 * clientv3-load (bench/clientv3-load, Go on etcd's own clientv3 from
 * Debian), a generator that costs far less CPU per call than grpc-js, so
 * that on a small machine the servers, not the generator, set the pace.
 * The program is built here on first use, and again when its source changes.
 */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import type { LocalCluster } from "../clusters.js";
import { KEY_BYTES, VALUE_BYTES } from "../throughput/workloads.js";
import { now } from "./jobs.js";
import { connectionsOf, serversCpuOver, target, WATCHED_KEY, windowFrom, type RowPlan, type RowResult } from "./run.js";

const HERE = dirname(fileURLToPath(import.meta.url));
const SOURCE_DIR = resolve(HERE, "../../../clientv3-load");
const BINARY = resolve(HERE, "../../clientv3-load");

const APT_HINT = "bench grpc --generator clientv3 needs Go and etcd's Go client from Debian: apt-get install -y golang-go golang-etcd-server-dev";

/** Connecting, and creating a thousand watchers one after the other on each stream, on a loaded machine. */
const READY_TIMEOUT_MS = 90_000;
/** After the window, the program sorts its latencies and closes its connections. */
const RESULT_GRACE_MS = 60_000;

/** What clientv3-load prints at the end of its row (see main.go's result). */
interface LoadResult {
  readonly completed: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly errors: number;
  readonly firstError?: string;
  readonly cpuMs: number;
  readonly windowMs: number;
  readonly writerPuts?: number;
}

/** Builds clientv3-load if it is missing or older than its source, and returns its path. */
export async function buildClientv3Load(): Promise<string> {
  if (existsSync(BINARY) && statSync(BINARY).mtimeMs >= newestSource()) return BINARY;
  console.log(`building ${BINARY} with go (GOPATH mode, Debian's /usr/share/gocode)`);
  // Debian ships etcd 3.4's Go sources in GOPATH layout, and no module proxy is needed or reachable.
  const env = { ...process.env, GO111MODULE: "off", GOPATH: "/usr/share/gocode", GOFLAGS: "", GOCACHE: join(tmpdir(), "raftkv-clientv3-load-gocache") };
  const go = spawn("go", ["build", "-o", BINARY, "."], { cwd: SOURCE_DIR, env, stdio: ["ignore", "inherit", "pipe"] });
  let stderr = "";
  go.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const exit = await new Promise<number | null>((resolveExit, reject) => {
    go.on("error", (error: NodeJS.ErrnoException) => reject(error.code === "ENOENT" ? new Error(`no go command. ${APT_HINT}`) : error));
    go.on("exit", resolveExit);
  });
  if (exit !== 0) throw new Error(`go build of ${SOURCE_DIR} failed (${APT_HINT}):\n${stderr}`);
  return BINARY;
}

function newestSource(): number {
  return Math.max(...readdirSync(SOURCE_DIR).map((name) => statSync(join(SOURCE_DIR, name)).mtimeMs));
}

/** measureRow's counterpart: the same row, against the same leader, from one clientv3-load process. */
export function clientv3Rows(binary: string, caFile: string | undefined): (cluster: LocalCluster, plan: RowPlan) => Promise<RowResult> {
  return async (cluster, plan) => {
    const { members, address, security } = await target(cluster);
    const args = [...rowArgs(address, plan), ...(caFile ? ["--cacert", caFile] : []), ...(security?.token ? ["--token", security.token] : [])];
    const child = spawn(binary, args, { stdio: ["pipe", "pipe", "pipe"] });
    try {
      const lines = outputLines(child);
      const ready = await nextLine(lines, READY_TIMEOUT_MS, "ready");
      if (!(JSON.parse(ready) as { ready?: boolean }).ready) throw new Error(`clientv3-load said ${ready} before ready`);
      const window = windowFrom(now(), plan);
      child.stdin.write("go\n");
      const servers = serversCpuOver(members, window);
      const result = JSON.parse(await nextLine(lines, window.measureUntil - now() + RESULT_GRACE_MS, "its result")) as LoadResult;
      return {
        system: cluster.system,
        row: plan.row,
        rate: result.completed / plan.durationS,
        p50Ms: result.p50Ms,
        p99Ms: result.p99Ms,
        completed: result.completed,
        errors: result.errors,
        firstError: result.firstError,
        connections: connectionsOf(plan),
        workers: 1,
        generatorCpuPercent: (result.cpuMs / result.windowMs) * 100,
        serverCpuPercent: await servers,
        ...(result.writerPuts !== undefined && { writerPutsPerS: result.writerPuts / plan.durationS }),
      };
    } finally {
      child.kill();
    }
  };
}

/** The row in clientv3-load's flags, with the keys, values and watched key of the Node generator. */
function rowArgs(address: string, plan: RowPlan): string[] {
  const { row } = plan;
  return [
    ...["--endpoint", address, "--row", row.kind, "--connections", String(plan.connections), "--keyspace", String(plan.keyspace)],
    ...["--key-bytes", String(KEY_BYTES), "--value-bytes", String(VALUE_BYTES), "--watched-key", WATCHED_KEY],
    ...["--warmup", `${plan.warmupS}s`, "--duration", `${plan.durationS}s`],
    ...(row.kind === "watch" ? ["--watchers", String(row.watchers)] : ["--in-flight", String(row.concurrency)]),
  ];
}

interface Lines {
  readonly iterator: AsyncIterator<string>;
  readonly stderr: () => string;
}

/** The program's stdout as lines; a failure to start it, or its early exit, shows as the lines ending, with its stderr and the error. */
function outputLines(child: ChildProcessWithoutNullStreams): Lines {
  let stderr = "";
  const note = (text: string): void => {
    stderr = (stderr + text).slice(-4_000);
  };
  child.stderr.on("data", (chunk: Buffer) => note(chunk.toString()));
  child.on("error", (error) => note(String(error)));
  child.stdin.on("error", (error) => note(`writing to its stdin: ${String(error)}`));
  return { iterator: createInterface({ input: child.stdout })[Symbol.asyncIterator](), stderr: () => stderr };
}

/** The program's next line of output, or an error with what it said on stderr if it ends or stays silent. */
async function nextLine({ iterator, stderr }: Lines, timeoutMs: number, expected: string): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  const silence = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`clientv3-load gave no ${expected} within ${Math.round(timeoutMs / 1_000)} s: ${stderr()}`)), timeoutMs);
  });
  try {
    const next = await Promise.race([iterator.next(), silence]);
    if (next.done) throw new Error(`clientv3-load ended before ${expected}: ${stderr()}`);
    return next.value;
  } finally {
    clearTimeout(timer);
  }
}
