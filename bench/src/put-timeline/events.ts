/**
 * What the put timeline records in each member (recorder.ts) and reads back
 * (report.ts): one JSON object a line, times in ms since the epoch from
 * `performance.timeOrigin + performance.now()`, so that the members'
 * timelines share one clock.
 */

export type TimelineEvent =
  /** A put through the gateway, from its request's start to its response's finish. */
  | { readonly kind: "put"; readonly at: number; readonly ms: number }
  /** A collection; `gcKind` is node's (1 scavenge, 2 mark-compact, 4 incremental marking, 8 weak callbacks). */
  | { readonly kind: "gc"; readonly at: number; readonly ms: number; readonly gcKind: number }
  /** A late turn of the loop, with the main thread's time on a CPU and waiting in the run queue over it. */
  | { readonly kind: "stall"; readonly at: number; readonly ms: number; readonly onCpuMs: number; readonly queuedMs: number }
  /** A WAL write, from its call to its callback on the loop (the thread pool's hand-off included). */
  | { readonly kind: "wal"; readonly at: number; readonly ms: number; readonly bytes: number }
  /** A file created or removed in one of the member's folders (snap, wal, kv). */
  | { readonly kind: "file"; readonly at: number; readonly dir: string; readonly name: string };

/** Where a member's timeline goes: `<dir>/<member name>.jsonl`. */
export const TIMELINE_DIR_VARIABLE = "RAFTKV_TIMELINE_DIR";

/** Why a loop was late: it ran (our own work held it), it waited for a CPU, or it slept (a blocking call, a lock). */
export type StallCause = "on-cpu" | "run-queue" | "off-cpu";

export function stallCause(stall: { readonly ms: number; readonly onCpuMs: number; readonly queuedMs: number }): StallCause {
  if (stall.onCpuMs >= stall.ms / 2) return "on-cpu";
  if (stall.queuedMs >= stall.ms / 2) return "run-queue";
  return "off-cpu";
}

/** The end of an event that lasts; a file event is an instant. */
export function endOf(event: TimelineEvent): number {
  return event.kind === "file" ? event.at : event.at + event.ms;
}
