/**
 * Two or more runs side by side (typically etcd and raftkv under the same
 * seeded schedule): their availability figures and latencies in columns, and
 * their successful operations over time on one chart, each run's faults
 * shaded in its own band.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  availability,
  latencyByOutcome,
  nemesisWindows,
  percentile,
  throughput,
  timedOperations,
  type Availability,
  type NemesisWindow,
  type OutageRule,
  type TimedOperation,
} from "./availability.js";
import { availabilityRows, escapeHtml, fixed, Frame, grid, niceStep, pageHead } from "./html.js";
import { PHASES, phaseFigures, type Phase, type PhaseFigures } from "./phases.js";
import type { RecordedEvent } from "./recorder.js";

/** What a run leaves in `run.json` beside its history, for comparisons. */
export interface RunSummary {
  readonly label: string;
  readonly settings: Readonly<Record<string, string>>;
  readonly valid: boolean | "unknown";
  readonly anomalies: number;
  /** The span the availability figures cover, and how outages were told. */
  readonly durationMs: number;
  readonly outageRule: OutageRule;
  /** Under churn: the leader watch's longest stretch with no leader. */
  readonly longestLeaderlessMs?: number;
}

export interface ComparedRun {
  readonly summary: RunSummary;
  readonly operations: readonly TimedOperation[];
  readonly windows: readonly NemesisWindow[];
  readonly availability: Availability;
  readonly phases: ReadonlyMap<Phase, PhaseFigures>;
}

const RUN_COLOURS = ["#1d3557", "#e76f51", "#2a9d8f", "#9b5de5"] as const;
const TIMELINE_BUCKET_MS = 250;

/** Reads a run's directory: its summary and its history. */
export function loadRun(dir: string): ComparedRun {
  const summary = JSON.parse(readFileSync(join(dir, "run.json"), "utf8")) as RunSummary;
  const events = readFileSync(join(dir, "history.jsonl"), "utf8")
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as RecordedEvent);
  const operations = timedOperations(events);
  const windows = nemesisWindows(events);
  return {
    summary,
    operations,
    windows,
    availability: availability(operations, 0, summary.durationMs, summary.outageRule),
    phases: phaseFigures(operations, windows, summary.durationMs, summary.outageRule),
  };
}

export function renderComparison(runs: readonly ComparedRun[]): string {
  const labels = runs.map((run) => run.summary.label);
  const title = `availability: ${labels.join(" vs ")}`;
  const verdicts = runs.map((run) =>
    run.summary.valid === true ? "valid" : run.summary.valid === false ? `INVALID (${run.summary.anomalies} anomalies)` : "unknown",
  );
  return `${pageHead(title)}
<h1>${escapeHtml(title)}</h1>
<h2>Settings</h2>
${sideBySide(
  labels,
  runs.map((run) => run.summary.settings),
)}
<h2>Availability</h2>
${sideBySide(labels, [...runs.map((run, i) => ({ verdict: verdicts[i]!, ...availabilityRows(run.availability) }))])}
<h2>Outages by phase</h2>
<p>Kill and pause windows by whether the member taken down led, and the second after each.</p>
${grid(PHASE_HEADER, phaseCells(runs))}
<h2>Latency by outcome</h2>
${latencyColumns(runs)}
<h2>Successful operations over time</h2>
<p>Successes per ${TIMELINE_BUCKET_MS} ms, one line per run: ${runs.map((run, i) => `<span style="color:${RUN_COLOURS[i % RUN_COLOURS.length]}">${escapeHtml(run.summary.label)}</span>`).join(", ")}; each run's faults shaded in its own band (first run on top).</p>
${timelineChart(runs)}
</body></html>
`;
}

/** One row per figure, one column per run. */
function sideBySide(labels: readonly string[], columns: readonly Readonly<Record<string, string>>[]): string {
  const names = [...new Set(columns.flatMap((column) => Object.keys(column)))];
  return grid(
    ["", ...labels],
    names.map((name) => [name, ...columns.map((column) => column[name] ?? "")]),
  );
}

function latencyColumns(runs: readonly ComparedRun[]): string {
  const rows = runs.flatMap((run) =>
    latencyByOutcome(run.operations).map((row) => [
      run.summary.label,
      row.f,
      row.type,
      String(row.count),
      row.p50Ms.toFixed(1),
      row.p99Ms.toFixed(1),
      row.maxMs.toFixed(1),
    ]),
  );
  return grid(["run", "operation", "outcome", "count", "p50 ms", "p99 ms", "max ms"], rows);
}

function timelineChart(runs: readonly ComparedRun[]): string {
  const durationMs = Math.max(...runs.map((run) => run.summary.durationMs));
  const frame = new Frame(durationMs);
  const series = runs.map((run) => throughput(run.operations, 0, run.summary.durationMs, TIMELINE_BUCKET_MS));
  const busiest = Math.max(1, ...series.flat().map((bucket) => bucket.ok));
  const step = niceStep(busiest / 5);
  const top = Math.ceil(busiest / step) * step;
  const y = (count: number) => frame.top + frame.plotHeight * (1 - count / top);
  const ticks = Array.from({ length: top / step + 1 }, (_, i) => ({ y: y(i * step), label: String(i * step) }));
  const band = frame.plotHeight / runs.length;
  const shading = runs.map((run, i) => frame.shade(run.windows, RUN_COLOURS[i % RUN_COLOURS.length]!, frame.top + i * band, band)).join("");
  const lines = series
    .map((buckets, i) => {
      const points = buckets.map((b) => `${fixed(frame.x(b.time + TIMELINE_BUCKET_MS / 2))},${fixed(y(b.ok))}`).join(" ");
      return `<polyline fill="none" stroke="${RUN_COLOURS[i % RUN_COLOURS.length]}" stroke-width="1.2" points="${points}"/>`;
    })
    .join("");
  return frame.svg(`successes / ${TIMELINE_BUCKET_MS} ms`, ticks, shading + lines, []);
}

const PHASE_HEADER = ["run", "phase", "windows", "seconds", "empty buckets", "per second", "ok ops", "timed out: reads / others"];

/** A row per run and phase: how often and how long, its buckets without a success, what succeeded and what ran out of time. */
function phaseCells(runs: readonly ComparedRun[]): string[][] {
  return runs.flatMap((run) =>
    PHASES.map((phase) => {
      const figures = run.phases.get(phase)!;
      const seconds = figures.ms / 1000;
      const perSecond = seconds > 0 ? (figures.emptyBuckets / seconds).toFixed(2) : "";
      const cells = [figures.windows, seconds.toFixed(1), figures.emptyBuckets, perSecond, figures.ok, `${figures.timedOutReads} / ${figures.timedOutOthers}`];
      return [run.summary.label, phase, ...cells.map(String)];
    }),
  );
}

/** The phase table in Markdown, for the README. */
export function markdownPhaseRows(runs: readonly ComparedRun[]): string {
  const header = `| ${PHASE_HEADER.join(" | ")} |\n|---|---|${"--:|".repeat(PHASE_HEADER.length - 2)}\n`;
  return (
    header +
    phaseCells(runs)
      .map((cells) => `| ${cells.join(" | ")} |\n`)
      .join("")
  );
}

/** A Markdown table row per run, for the README's comparison table. */
export function markdownRows(runs: readonly ComparedRun[]): string {
  const header =
    "| run | ok ops/s | outages | total outage | longest outage | MTTR | A | ok p50 / p99 ms | longest without a leader | verdict |\n|---|--:|--:|--:|--:|--:|--:|--:|--:|---|\n";
  return (
    header +
    runs
      .map((run) => {
        const a = run.availability;
        const ok = run.operations
          .filter((op) => op.type === "ok")
          .map((op) => op.end - op.start)
          .sort((x, z) => x - z);
        const pct = (share: number) => percentile(ok, share).toFixed(1);
        const verdict = run.summary.valid === true ? "valid" : `${run.summary.anomalies} anomalies`;
        const leaderless = run.summary.longestLeaderlessMs === undefined ? "" : `${(run.summary.longestLeaderlessMs / 1000).toFixed(2)} s`;
        return `| ${run.summary.label} | ${a.okPerSecond.toFixed(0)} | ${a.outages.length} | ${(a.outageTotalMs / 1000).toFixed(2)} s | ${(a.longestOutageMs / 1000).toFixed(2)} s | ${(a.mttrMs / 1000).toFixed(2)} s | ${(a.availability * 100).toFixed(1)} % | ${pct(0.5)} / ${pct(0.99)} | ${leaderless} | ${verdict} |`;
      })
      .join("\n") +
    "\n"
  );
}
