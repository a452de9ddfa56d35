/**
 * Where a churn run's outages fall: while the member taken down was the
 * leader, while it was a follower, and in the second after it came back.
 * A stopped leader costs both systems an election timeout, a stopped
 * follower only the clients that wait on it, so two runs compare fairly
 * phase by phase even when the same schedule hit their leaders a different
 * number of times. The nemesis marks a member that led when it was taken
 * down (see nemesis.ts); histories from before it did count as followers.
 */
import { throughput, type NemesisWindow, type OutageRule, type TimedOperation } from "./availability.js";

export const PHASES = ["leader down", "follower down", "second after"] as const;
export type Phase = (typeof PHASES)[number];

export interface PhaseFigures {
  readonly windows: number;
  readonly ms: number;
  /** Buckets of the outage rule's length that start in the phase and hold no successful operation. */
  readonly emptyBuckets: number;
  readonly ok: number;
  /** Operations invoked in the phase that ran out their client's deadline, reads apart. */
  readonly timedOutReads: number;
  readonly timedOutOthers: number;
}

/** How the nemesis labels a member taken down while it led. */
export const LEADER_MARK = "(the leader)";
const TAKEN_DOWN = /: (kill|pause) \S+/;
const AFTER_MS = 1_000;

interface Span {
  readonly phase: Phase;
  readonly start: number;
  readonly end: number;
}

/** Each phase's figures over a run: its windows, their length, the empty buckets, successes and timeouts in them. */
export function phaseFigures(
  operations: readonly TimedOperation[],
  windows: readonly NemesisWindow[],
  durationMs: number,
  rule: OutageRule,
): Map<Phase, PhaseFigures> {
  const spans = phaseSpans(windows);
  const buckets = throughput(operations, 0, durationMs, rule.bucketMs);
  const figures = new Map<Phase, PhaseFigures>();
  for (const phase of PHASES) {
    const own = spans.filter((span) => span.phase === phase);
    const within = (time: number) => own.some((span) => time >= span.start && time < span.end);
    const invoked = operations.filter((op) => within(op.start));
    const timedOut = invoked.filter((op) => op.type === "info");
    figures.set(phase, {
      windows: own.length,
      ms: own.reduce((sum, span) => sum + (span.end - span.start), 0),
      emptyBuckets: buckets.filter((bucket) => bucket.ok === 0 && within(bucket.time)).length,
      ok: operations.filter((op) => op.type === "ok" && within(op.end)).length,
      timedOutReads: timedOut.filter((op) => op.f === "read").length,
      timedOutOthers: timedOut.filter((op) => op.f !== "read").length,
    });
  }
  return figures;
}

/** Each kill or pause window as a leader's or a follower's, and the second after it ends (cut short by the next fault). */
function phaseSpans(windows: readonly NemesisWindow[]): Span[] {
  const down = windows.filter((window) => TAKEN_DOWN.test(window.label));
  return down.flatMap((window, i) => {
    const next = down[i + 1]?.start ?? Infinity;
    const phase: Phase = window.label.includes(LEADER_MARK) ? "leader down" : "follower down";
    return [
      { phase, start: window.start, end: window.end },
      { phase: "second after" as const, start: window.end, end: Math.min(window.end + AFTER_MS, next) },
    ];
  });
}
