/**
 * The run's report as one self-contained HTML page: the verdict, the
 * availability figures, and two inline SVG charts, every operation's latency
 * over time (coloured by outcome) and throughput over time, both with the
 * nemesis's fault windows shaded. No scripts, no external assets.
 */
import { latencyByOutcome, throughput, type Availability, type LatencyRow, type NemesisWindow, type TimedOperation } from "./availability.js";
import type { Verdict } from "./workloads/workload.js";

export interface ReportData {
  readonly title: string;
  readonly settings: Readonly<Record<string, string>>;
  readonly verdict: Verdict;
  readonly availability: Availability;
  readonly operations: readonly TimedOperation[];
  readonly windows: readonly NemesisWindow[];
  /** The run's span on the charts' time axis, in milliseconds. */
  readonly durationMs: number;
}

const WIDTH = 1100;
const HEIGHT = 320;
const MARGIN = { left: 60, right: 20, top: 20, bottom: 40 };
export const COLOURS = { ok: "#2a9d8f", fail: "#e63946", info: "#f4a261", nemesis: "#8d99ae" } as const;
const THROUGHPUT_BUCKET_MS = 1_000;

export function renderReport(data: ReportData): string {
  const verdict = data.verdict.valid === true ? "valid" : data.verdict.valid === false ? "INVALID" : "unknown";
  return `${pageHead(data.title)}
<h1>${escapeHtml(data.title)}: <span class="${verdict}">${verdict}</span></h1>
${table(data.settings)}
<h2>Availability</h2>
${table(availabilityRows(data.availability))}
<h2>Anomalies (${data.verdict.anomalies.length})</h2>
${data.verdict.anomalies.length === 0 ? "<p>None.</p>" : `<ul>${data.verdict.anomalies.map((a) => `<li><b>${escapeHtml(a.kind)}</b>: ${escapeHtml(a.detail)}</li>`).join("")}</ul>`}
${data.verdict.text === undefined ? "" : `<pre>${escapeHtml(data.verdict.text)}</pre>`}
<h2>Latency by outcome</h2>
${latencyTable(latencyByOutcome(data.operations))}
<h2>Latency</h2>
<p>Each operation at its invocation time; <span style="color:${COLOURS.ok}">ok</span>, <span style="color:${COLOURS.fail}">fail</span>, <span style="color:${COLOURS.info}">info</span> (outcome unknown); shaded: faults.</p>
${latencyChart(data)}
<h2>Throughput</h2>
<p>Completions per second: <span style="color:${COLOURS.ok}">ok</span> and <span style="color:${COLOURS.fail}">fail or info</span>.</p>
${throughputChart(data)}
${windowList(data.windows)}
</body></html>
`;
}

/** The page's head and opening body, shared by the run report and the comparison page. */
export function pageHead(title: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; } td, th { padding: 2px 12px 2px 0; text-align: left; vertical-align: top; }
.valid { color: ${COLOURS.ok}; } .INVALID { color: ${COLOURS.fail}; } .unknown { color: ${COLOURS.info}; }
pre { background: #f6f6f6; padding: 1em; overflow-x: auto; }
svg text { font: 11px system-ui, sans-serif; }
</style></head><body>`;
}

export function availabilityRows(a: Availability): Record<string, string> {
  return {
    operations: String(a.operations),
    "ok / fail / info": `${a.ok} / ${a.fail} / ${a.info}`,
    "share ok": percent(a.okShare),
    "successful operations / s": a.okPerSecond.toFixed(1),
    outages: String(a.outages.length),
    "total unavailability": seconds(a.outageTotalMs),
    "longest unavailability": seconds(a.longestOutageMs),
    MTTR: seconds(a.mttrMs),
    MTBF: Number.isFinite(a.mtbfMs) ? seconds(a.mtbfMs) : "no outage",
    "A = MTBF / (MTBF + MTTR)": percent(a.availability),
  };
}

/** Columns are rows of `cells`: one header row, then a row per entry. */
export function grid(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const cells = (tag: string, values: readonly string[]) => values.map((value) => `<${tag}>${escapeHtml(value)}</${tag}>`).join("");
  return `<table><tr>${cells("th", header)}</tr>${rows.map((row) => `<tr>${cells("td", row)}</tr>`).join("")}</table>`;
}

export function latencyTable(rows: readonly LatencyRow[]): string {
  const ms = (value: number) => value.toFixed(1);
  return grid(
    ["operation", "outcome", "count", "p50 ms", "p99 ms", "max ms"],
    rows.map((row) => [row.f, row.type, String(row.count), ms(row.p50Ms), ms(row.p99Ms), ms(row.maxMs)]),
  );
}

export function percent(share: number): string {
  return `${(share * 100).toFixed(2)} %`;
}

export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}

export function table(rows: Readonly<Record<string, string>>): string {
  return `<table>${Object.entries(rows)
    .map(([name, value]) => `<tr><th>${escapeHtml(name)}</th><td>${escapeHtml(value)}</td></tr>`)
    .join("")}</table>`;
}

function windowList(windows: readonly NemesisWindow[]): string {
  if (windows.length === 0) return "<p>No faults were injected.</p>";
  const items = windows.map((w) => `<li>${seconds(w.start)} – ${seconds(w.end)}: ${escapeHtml(w.label)}</li>`).join("");
  return `<h2>Faults</h2><ul>${items}</ul>`;
}

/** A chart's frame: maps milliseconds of run time to x, and shades the fault windows. */
export class Frame {
  readonly plotWidth = WIDTH - MARGIN.left - MARGIN.right;
  readonly plotHeight = HEIGHT - MARGIN.top - MARGIN.bottom;

  constructor(private readonly durationMs: number) {}

  x(ms: number): number {
    return MARGIN.left + (ms / Math.max(1, this.durationMs)) * this.plotWidth;
  }

  /** Fault windows as translucent bands from `top`, `height` high, each titled with its fault. */
  shade(windows: readonly NemesisWindow[], colour: string, top: number, height: number): string {
    return windows
      .map(
        (w) =>
          `<rect x="${fixed(this.x(w.start))}" y="${fixed(top)}" width="${fixed(Math.max(1, this.x(w.end) - this.x(w.start)))}" height="${fixed(height)}" fill="${colour}" opacity="0.25"><title>${escapeHtml(w.label)}</title></rect>`,
      )
      .join("");
  }

  /** The top of the plot area and its height. */
  get top(): number {
    return MARGIN.top;
  }

  svg(yLabel: string, yTicks: readonly { y: number; label: string }[], body: string, windows: readonly NemesisWindow[]): string {
    const shading = this.shade(windows, COLOURS.nemesis, MARGIN.top, this.plotHeight);
    const bottom = MARGIN.top + this.plotHeight;
    const step = niceStep(this.durationMs / 1000 / 10);
    const xTicks = Array.from({ length: Math.floor(this.durationMs / 1000 / step) + 1 }, (_, i) => i * step)
      .map(
        (s) =>
          `<line x1="${fixed(this.x(s * 1000))}" x2="${fixed(this.x(s * 1000))}" y1="${bottom}" y2="${bottom + 4}" stroke="#444"/><text x="${fixed(this.x(s * 1000))}" y="${bottom + 16}" text-anchor="middle">${s}</text>`,
      )
      .join("");
    const yAxis = yTicks
      .map(
        ({ y, label }) =>
          `<line x1="${MARGIN.left - 4}" x2="${WIDTH - MARGIN.right}" y1="${fixed(y)}" y2="${fixed(y)}" stroke="#ddd"/><text x="${MARGIN.left - 6}" y="${fixed(y + 4)}" text-anchor="end">${label}</text>`,
      )
      .join("");
    return `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}">
${shading}${yAxis}<line x1="${MARGIN.left}" x2="${WIDTH - MARGIN.right}" y1="${bottom}" y2="${bottom}" stroke="#444"/>${xTicks}
<text x="${WIDTH / 2}" y="${HEIGHT - 4}" text-anchor="middle">seconds since start</text>
<text transform="translate(14 ${MARGIN.top + this.plotHeight / 2}) rotate(-90)" text-anchor="middle">${yLabel}</text>
${body}</svg>`;
  }
}

/** Latency on a log scale from 1 ms to the slowest operation, so both fast and timed-out operations show. */
function latencyChart(data: ReportData): string {
  const frame = new Frame(data.durationMs);
  const slowest = Math.max(10, ...data.operations.map((op) => op.end - op.start));
  const decades = Math.ceil(Math.log10(slowest));
  const y = (ms: number) => MARGIN.top + frame.plotHeight * (1 - Math.log10(Math.max(1, ms)) / decades);
  const ticks = Array.from({ length: decades + 1 }, (_, i) => ({ y: y(10 ** i), label: `${10 ** i}` }));
  const dots = data.operations
    .map((op) => `<circle cx="${fixed(frame.x(op.start))}" cy="${fixed(y(op.end - op.start))}" r="1.6" fill="${COLOURS[op.type]}"/>`)
    .join("");
  return frame.svg("latency (ms, log)", ticks, dots, data.windows);
}

function throughputChart(data: ReportData): string {
  const frame = new Frame(data.durationMs);
  const buckets = throughput(data.operations, 0, data.durationMs, THROUGHPUT_BUCKET_MS);
  const busiest = Math.max(1, ...buckets.map((bucket) => Math.max(bucket.ok, bucket.failed)));
  const step = niceStep(busiest / 5);
  const y = (count: number) => MARGIN.top + frame.plotHeight * (1 - count / (Math.ceil(busiest / step) * step));
  const ticks = Array.from({ length: Math.ceil(busiest / step) + 1 }, (_, i) => ({ y: y(i * step), label: String(i * step) }));
  const line = (count: (bucket: (typeof buckets)[number]) => number, colour: string) =>
    `<polyline fill="none" stroke="${colour}" stroke-width="1.5" points="${buckets.map((b) => `${fixed(frame.x(b.time + THROUGHPUT_BUCKET_MS / 2))},${fixed(y(count(b)))}`).join(" ")}"/>`;
  return frame.svg("operations / s", ticks, line((b) => b.ok, COLOURS.ok) + line((b) => b.failed, COLOURS.fail), data.windows);
}

/** 1, 2 or 5 times a power of ten, at least `rough`: round numbers for ticks. */
export function niceStep(rough: number): number {
  const power = 10 ** Math.floor(Math.log10(Math.max(rough, 1e-9)));
  return [1, 2, 5, 10].map((m) => m * power).find((step) => step >= rough) ?? 10 * power;
}

export function fixed(n: number): string {
  return n.toFixed(1);
}

export function escapeHtml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}
