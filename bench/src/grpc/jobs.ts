/**
 * What the main thread and the load workers say to each other. A worker
 * opens its connections (and, for the watch row, creates its watchers),
 * says `ready`, and is then given one time window shared by all workers:
 * load from `startAt`, measured from `measureFrom` to `measureUntil`.
 */
import type { Counts } from "./histogram.js";

/** Milliseconds since the epoch, with sub-millisecond precision, the same in every thread of the process. */
export function now(): number {
  return performance.timeOrigin + performance.now();
}

export function sleepUntil(at: number): Promise<void> {
  return new Promise((resolveSleep) => setTimeout(resolveSleep, Math.max(0, at - now())));
}

export interface Window {
  readonly startAt: number;
  readonly measureFrom: number;
  readonly measureUntil: number;
}

/** What the calls need when the cluster serves TLS (the CA that signed it) and auth (a token, sent as etcd's `token` metadata). */
export interface Security {
  readonly caPem?: string;
  readonly token?: string;
}

/** Closed loops of unary calls: `concurrency` in flight, spread evenly over `connections` connections. */
export interface UnaryJob {
  readonly kind: "unary";
  readonly security?: Security;
  readonly request: "put" | "range" | "serializable";
  readonly address: string;
  readonly connections: number;
  readonly concurrency: number;
  readonly keyspace: number;
}

/** One Watch stream per entry of `watchers` (each on a connection of its own), with that many watchers of `key` on it. */
export interface WatchJob {
  readonly kind: "watch";
  readonly security?: Security;
  readonly address: string;
  readonly key: string;
  readonly watchers: readonly number[];
}

export type Job = UnaryJob | WatchJob;

export type ToWorker =
  | { readonly kind: "go"; readonly window: Window }
  /** The writer's put of `revision` was acknowledged at `at` (see now()). */
  | { readonly kind: "ack"; readonly revision: number; readonly at: number }
  /** The watch row is over: every ack has been sent. */
  | { readonly kind: "stop" };

export interface WorkerResult {
  /** Calls completed, or events delivered, within the measured window. */
  readonly completed: number;
  /** Latency of each call, or delay of each event (see the README), in ms. */
  readonly latency: Counts;
  readonly errors: number;
  readonly firstError: string | undefined;
  /** Share of the measured window the worker's event loop was busy (0 to 1): near 1, the worker held the load back. */
  readonly busy: number;
}

export type FromWorker = { readonly kind: "ready" } | { readonly kind: "result"; readonly result: WorkerResult };
