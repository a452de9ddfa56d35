/**
 * Just enough of the Prometheus text format for the member's own /metrics:
 * samples by name and labels, totals over labels, and quantiles of a
 * histogram between two scrapes (the change in its buckets).
 */
export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

const SAMPLE = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/;
const LABEL = /(\w+)="((?:[^"\\]|\\.)*)"/g;

export function parseMetrics(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split("\n")) {
    const match = SAMPLE.exec(line);
    if (!match) continue;
    const labels: Record<string, string> = {};
    for (const [, label = "", value = ""] of (match[2] ?? "").matchAll(LABEL)) labels[label] = value;
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return samples;
}

/** The sum of a series over all its labels (0 when the member has none yet). */
export const total = (samples: readonly Sample[], name: string): number =>
  samples.filter((sample) => sample.name === name).reduce((sum, sample) => sum + sample.value, 0);

/** A histogram's cumulative bucket counts by upper bound, summed over its other labels. */
export function buckets(samples: readonly Sample[], histogram: string): Map<number, number> {
  const counts = new Map<number, number>();
  for (const sample of samples) {
    if (sample.name !== `${histogram}_bucket` || sample.labels.le === undefined) continue;
    const bound = sample.labels.le === "+Inf" ? Infinity : Number(sample.labels.le);
    counts.set(bound, (counts.get(bound) ?? 0) + sample.value);
  }
  return counts;
}

/**
 * The q-quantile of what was observed between two scrapes, interpolated
 * within its bucket as Prometheus's histogram_quantile does; undefined when
 * nothing was observed.
 */
export function quantileBetween(before: Map<number, number>, after: Map<number, number>, q: number): number | undefined {
  const bounds = [...after.keys()].sort((a, b) => a - b);
  const counts = bounds.map((bound) => (after.get(bound) ?? 0) - (before.get(bound) ?? 0));
  const observed = counts[counts.length - 1] ?? 0;
  if (observed <= 0) return undefined;
  const rank = q * observed;
  const index = counts.findIndex((count) => count >= rank);
  const upper = bounds[index]!;
  const lower = index > 0 ? bounds[index - 1]! : 0;
  // Beyond the last finite bound, the last finite bound is the best answer there is.
  if (upper === Infinity) return lower;
  const below = index > 0 ? counts[index - 1]! : 0;
  const inBucket = counts[index]! - below;
  return inBucket === 0 ? upper : lower + ((upper - lower) * (rank - below)) / inBucket;
}
