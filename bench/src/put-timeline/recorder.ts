/**
 * A preload that writes a member's timeline (events.ts) while the
 * benchmark runs, to find what the slowest puts met. Loaded into every
 * member through NODE_OPTIONS; it does nothing in a process that is not a
 * member (no --data-dir) or when RAFTKV_TIMELINE_DIR is not set:
 *
 *   RAFTKV_TIMELINE_DIR=/tmp/tl NODE_OPTIONS="--import $PWD/bench/dist/src/put-timeline/recorder.js" \
 *     pnpm --filter @raftkv/bench throughput --systems raftkv --workloads put --connections 1
 *   node bench/dist/src/put-timeline/report.js /tmp/tl
 *
 * It costs a member a timer every 2 ms and a line per put: a diagnosis
 * tool, not for the figures of a run.
 */
import diagnosticsChannel from "node:diagnostics_channel";
import fs from "node:fs";
import type { IncomingMessage } from "node:http";
import { join } from "node:path";
import { PerformanceObserver, performance } from "node:perf_hooks";
import { TIMELINE_DIR_VARIABLE, type TimelineEvent } from "./events.js";

const STALL_TIMER_MS = 2;
const FLUSH_EVERY_MS = 500;
const WATCHED_DIRS = ["snap", "wal", "kv"] as const;

const now = (): number => performance.timeOrigin + performance.now();

function flagValue(name: string): string | undefined {
  const prefix = `--${name}=`;
  return process.argv.find((arg) => arg.startsWith(prefix))?.slice(prefix.length);
}

/** Lines are kept and appended asynchronously twice a second: a synchronous write would stall the loop it measures. */
function timelineWriter(file: string): (event: TimelineEvent) => void {
  let lines: string[] = [];
  setInterval(() => {
    if (lines.length === 0) return;
    fs.appendFile(file, `${lines.join("\n")}\n`, () => undefined);
    lines = [];
  }, FLUSH_EVERY_MS).unref();
  return (event) => lines.push(JSON.stringify(event));
}

function recordPuts(record: (event: TimelineEvent) => void): void {
  const starts = new WeakMap<IncomingMessage, number>();
  diagnosticsChannel.subscribe("http.server.request.start", (message) => {
    starts.set((message as { request: IncomingMessage }).request, now());
  });
  diagnosticsChannel.subscribe("http.server.response.finish", (message) => {
    const { request } = message as { request: IncomingMessage };
    const at = starts.get(request);
    if (at !== undefined && request.url?.endsWith("/kv/put")) record({ kind: "put", at, ms: now() - at });
  });
}

function recordCollections(record: (event: TimelineEvent) => void): void {
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const gcKind = (entry as { detail?: { kind?: number } }).detail?.kind ?? 0;
      record({ kind: "gc", at: performance.timeOrigin + entry.startTime, ms: entry.duration, gcKind });
    }
  }).observe({ entryTypes: ["gc"] });
}

/** The main thread's ms on a CPU and ms waiting for one (schedstat counts both in ns). */
function mainThreadSchedule(): { onCpu: number; queued: number } {
  const [onCpu = "0", queued = "0"] = fs.readFileSync(`/proc/self/task/${process.pid}/schedstat`, "utf8").split(" ");
  return { onCpu: Number(onCpu) / 1e6, queued: Number(queued) / 1e6 };
}

function recordStalls(record: (event: TimelineEvent) => void): void {
  let last = now();
  let lastSchedule = mainThreadSchedule();
  setInterval(() => {
    const at = now();
    const schedule = mainThreadSchedule();
    if (at - last > 2 * STALL_TIMER_MS) {
      record({ kind: "stall", at: last, ms: at - last, onCpuMs: schedule.onCpu - lastSchedule.onCpu, queuedMs: schedule.queued - lastSchedule.queued });
    }
    last = at;
    lastSchedule = schedule;
  }, STALL_TIMER_MS).unref();
}

type OpenCallback = (error: NodeJS.ErrnoException | null, fd: number) => void;
type WriteCallback = (error: NodeJS.ErrnoException | null, written: number) => void;

/**
 * Times node:fs's callback `write` on descriptors opened under `wal/`: the
 * WAL's only write path (packages/wal/src/fs.ts). A closed descriptor is
 * forgotten, so that another file given its number is not taken for the log.
 */
function recordWalWrites(record: (event: TimelineEvent) => void): void {
  const walFds = new Set<number>();
  const open = fs.open as (...args: unknown[]) => void;
  const write = fs.write as (...args: unknown[]) => void;
  const close = fs.close as (...args: unknown[]) => void;
  type Patchable = Record<"open" | "write" | "close", (...args: unknown[]) => void>;
  const patched = fs as unknown as Patchable;
  patched.open = (...args: unknown[]) => {
    const callback = args[args.length - 1];
    if (typeof callback === "function" && String(args[0]).includes("/wal/")) {
      args[args.length - 1] = ((error, fd) => {
        if (!error) walFds.add(fd);
        (callback as OpenCallback)(error, fd);
      }) satisfies OpenCallback;
    }
    open(...args);
  };
  patched.write = (...args: unknown[]) => {
    const callback = args[args.length - 1];
    if (typeof callback !== "function" || !walFds.has(args[0] as number)) return write(...args);
    const at = now();
    const bytes = typeof args[3] === "number" ? args[3] : 0;
    args[args.length - 1] = ((error, written) => {
      record({ kind: "wal", at, ms: now() - at, bytes });
      (callback as WriteCallback)(error, written);
    }) satisfies WriteCallback;
    write(...args);
  };
  patched.close = (...args: unknown[]) => {
    walFds.delete(args[0] as number);
    close(...args);
  };
}

/** Creations and removals (fs.watch's "rename") in snap/, wal/ and kv/; a folder not made yet is tried again. */
function recordFiles(dataDir: string, record: (event: TimelineEvent) => void): void {
  const watch = (dir: string): void => {
    try {
      fs.watch(join(dataDir, dir), (type, name) => {
        if (type === "rename" && name) record({ kind: "file", at: now(), dir, name: String(name) });
      }).unref();
    } catch {
      setTimeout(() => watch(dir), 200).unref();
    }
  };
  for (const dir of WATCHED_DIRS) watch(dir);
}

const timelineDir = process.env[TIMELINE_DIR_VARIABLE];
const dataDir = flagValue("data-dir");
if (timelineDir && dataDir) {
  const record = timelineWriter(join(timelineDir, `${flagValue("name") ?? process.pid}.jsonl`));
  recordPuts(record);
  recordCollections(record);
  recordStalls(record);
  recordWalWrites(record);
  recordFiles(dataDir, record);
}
