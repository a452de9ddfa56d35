/**
 * Latencies kept as counts in logarithmic buckets 1 % wide, so that a worker
 * can record millions of them in fixed memory and hand them to the main
 * thread as one small array, and histograms from several workers add up.
 */

/** Each bucket's upper bound is this factor above its lower bound. */
const GROWTH = 1.01;
/** Values are bucketed in microseconds; bucket 0 holds those below 1 µs (a watch event's delay is often 0) and reads as 0. */
const MICROS_PER_MS = 1_000;
/** Up to about 10 minutes; a larger value lands in the last bucket. */
const BUCKETS = Math.ceil(Math.log(600_000 * MICROS_PER_MS) / Math.log(GROWTH)) + 2;

export type Counts = number[];

export class Histogram {
  private constructor(private readonly counts: Counts) {}

  static empty(): Histogram {
    return new Histogram(new Array<number>(BUCKETS).fill(0));
  }

  /** The sum of histograms recorded elsewhere (by workers). */
  static merged(all: readonly Counts[]): Histogram {
    const sum = Histogram.empty();
    for (const counts of all)
      counts.forEach((count, i) => {
        sum.counts[i]! += count;
      });
    return sum;
  }

  record(ms: number): void {
    const micros = ms * MICROS_PER_MS;
    const bucket = micros < 1 ? 0 : 1 + Math.floor(Math.log(micros) / Math.log(GROWTH));
    this.counts[Math.min(BUCKETS - 1, bucket)]! += 1;
  }

  get total(): number {
    return this.counts.reduce((sum, count) => sum + count, 0);
  }

  /** The value below which the fraction q of the recordings fall, in ms (the bucket's middle); 0 when empty. */
  quantile(q: number): number {
    const rank = Math.ceil(q * this.total);
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i]!;
      if (seen >= rank && seen > 0) return i === 0 ? 0 : (GROWTH ** (i - 1) * (1 + GROWTH)) / 2 / MICROS_PER_MS;
    }
    return 0;
  }

  toCounts(): Counts {
    return [...this.counts];
  }
}
