/**
 * Small live charts from the member's own /metrics, scraped every two
 * seconds: rates and percentiles are computed between consecutive scrapes.
 */
import { useEffect, useRef, useState } from "preact/hooks";
import uPlot from "uplot";
import { text } from "../api.js";
import { buckets, parseMetrics, quantileBetween, total, type Sample } from "../metrics/prometheus.js";
import { usePoll } from "../poll.js";
import { ErrorLine } from "../view.js";

const SCRAPE_MS = 2000;
const KEPT_POINTS = 120;
/** The charts show a fixed window ending now, so that the first points do not stretch across the axis. */
const WINDOW_SECONDS = (KEPT_POINTS * SCRAPE_MS) / 1000;

interface Scrape {
  readonly at: number;
  readonly samples: readonly Sample[];
}

interface ChartSpec {
  readonly title: string;
  readonly unit: string;
  readonly series: readonly string[];
  /** One value per series from two consecutive scrapes (null: nothing observed). */
  readonly points: (before: Scrape, after: Scrape) => (number | null)[];
}

const perSecond =
  (name: string) =>
  (before: Scrape, after: Scrape): number =>
    (total(after.samples, name) - total(before.samples, name)) / ((after.at - before.at) / 1000);

const millisecondQuantiles =
  (histogram: string, qs: readonly number[]) =>
  (before: Scrape, after: Scrape): (number | null)[] =>
    qs.map((q) => {
      const seconds = quantileBetween(buckets(before.samples, histogram), buckets(after.samples, histogram), q);
      return seconds === undefined ? null : seconds * 1000;
    });

const CHARTS: readonly ChartSpec[] = [
  { title: "HTTP requests", unit: "req/s", series: ["requests"], points: (a, b) => [perSecond("raftkv_http_request_duration_seconds_count")(a, b)] },
  {
    title: "HTTP request latency",
    unit: "ms",
    series: ["p50", "p90", "p99"],
    points: millisecondQuantiles("raftkv_http_request_duration_seconds", [0.5, 0.9, 0.99]),
  },
  {
    title: "Raft log",
    unit: "entries/s",
    series: ["proposed here", "committed", "applied"],
    points: (a, b) => [perSecond("raftkv_proposals_total")(a, b), perSecond("raftkv_commit_index")(a, b), perSecond("raftkv_applied_index")(a, b)],
  },
  { title: "WAL fsync", unit: "ms", series: ["p50", "p99"], points: millisecondQuantiles("raftkv_wal_fsync_duration_seconds", [0.5, 0.99]) },
];

/** Columns for uPlot: times in seconds, then one column per series of every chart. */
type Columns = (number | null)[][];

function appendPoint(columns: Columns, before: Scrape, after: Scrape): Columns {
  const values = [after.at / 1000, ...CHARTS.flatMap((chart) => chart.points(before, after))];
  return values.map((value, i) => [...(columns[i] ?? []), value].slice(-KEPT_POINTS));
}

export function MetricsPage() {
  const previous = useRef<Scrape | undefined>(undefined);
  const [columns, setColumns] = useState<Columns>([]);
  const { error } = usePoll(
    async () => ({ at: Date.now(), samples: parseMetrics(await text("/metrics")) }),
    SCRAPE_MS,
    (scrape) => {
      const before = previous.current;
      previous.current = scrape;
      if (before) setColumns((current) => appendPoint(current, before, scrape));
    },
  );
  let firstColumn = 1;
  return (
    <section>
      <h1>Metrics</h1>
      <ErrorLine error={error} />
      {columns.length === 0 && <p class="muted">Waiting for two scrapes of /metrics…</p>}
      <div class="charts">
        {CHARTS.map((chart) => {
          const from = firstColumn;
          firstColumn += chart.series.length;
          return <Chart spec={chart} data={[columns[0] ?? [], ...chart.series.map((_, i) => columns[from + i] ?? [])]} />;
        })}
      </div>
    </section>
  );
}

const COLOURS = ["#2563eb", "#d97706", "#dc2626"];

function Chart({ spec, data }: { spec: ChartSpec; data: Columns }) {
  const holder = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | undefined>(undefined);
  useEffect(() => {
    plot.current = new uPlot(
      {
        title: `${spec.title} (${spec.unit})`,
        width: 460,
        height: 200,
        series: [{}, ...spec.series.map((label, i) => ({ label, stroke: COLOURS[i % COLOURS.length], width: 1.5, spanGaps: false }))],
        axes: [{ space: 90, values: (_plot, ticks) => ticks.map((tick) => new Date(tick * 1000).toLocaleTimeString([], { hour12: false })) }, { size: 60 }],
        legend: { live: false },
        scales: { x: { time: true, range: (_plot, _min, max) => [(max ?? Date.now() / 1000) - WINDOW_SECONDS, max ?? Date.now() / 1000] } },
      },
      data as uPlot.AlignedData,
      holder.current!,
    );
    return () => plot.current?.destroy();
  }, []);
  useEffect(() => plot.current?.setData(data as uPlot.AlignedData), [data]);
  return <div class="chart" data-chart={spec.title} ref={holder} />;
}
