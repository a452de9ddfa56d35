/**
 * Watches: clients put values under one prefix while several watchers, one
 * per member, stream that prefix from the same start revision. A watcher
 * whose stream breaks (its member killed, paused too long) resumes from the
 * revision after the last it saw, on the next member. Once the cluster is
 * healed and a final put made, every watcher must have seen the same
 * revisions with the same values, in increasing order, with no gap and no
 * duplicate, and every acknowledged put must be among them at the revision
 * it was acknowledged with.
 */
import type { HistoryEvent } from "../../checker/index.js";
import type { Completion } from "../recorder.js";
import { abortWithAny, delay, waitFor } from "../wait.js";
import { onAnyMember, type WatchedEvent } from "./store.js";
import { FINAL_DEADLINE_MS, completedOperations, verdictOf, type Anomaly, type Client, type Verdict, type Workload, type WorkloadContext } from "./workload.js";

const PREFIX = "watch/";
const KEYS = 5;
/** A stream this quiet while clients write is stuck (a paused member): start over elsewhere. */
const IDLE_MS = 3_000;

type Observed = WatchedEvent;

export class WatchWorkload implements Workload {
  private startRevision = 0;
  private finalRevision = Infinity;
  private nextValue = 0;
  /** What each watcher saw, in the order it saw it. */
  private readonly seen: Observed[][];
  /** The revision each acknowledged put was given. */
  private readonly acknowledged = new Map<string, number>();

  constructor(private readonly context: WorkloadContext) {
    this.seen = context.driver.nodes.map(() => []);
  }

  async setup(): Promise<void> {
    this.startRevision = await onAnyMember(this.urls(), FINAL_DEADLINE_MS, (url) =>
      this.context.store.put(url, `${PREFIX}start`, "start", this.context.timeoutMs),
    );
  }

  step(client: Client): Promise<Completion> {
    const key = `${PREFIX}k${client.random.int(KEYS)}`;
    const value = String(this.nextValue++);
    return this.context.recorder.perform(client.process, { f: "write", key, value }, async () => {
      this.acknowledged.set(value, await this.context.store.put(client.url, key, value, client.timeoutMs));
      return { type: "ok" };
    });
  }

  async background(signal: AbortSignal): Promise<void> {
    await Promise.all(this.seen.map((observed, watcher) => this.watch(watcher, observed, signal)));
  }

  /** A final put, then a wait for every watcher to see it. */
  async final(): Promise<void> {
    this.finalRevision = await onAnyMember(this.urls(), FINAL_DEADLINE_MS, (url) =>
      this.context.store.put(url, `${PREFIX}final`, "final", this.context.timeoutMs),
    );
    await waitFor(
      `every watcher to reach revision ${this.finalRevision}`,
      async () => (this.seen.every((observed) => (observed.at(-1)?.revision ?? 0) >= this.finalRevision) ? true : undefined),
      FINAL_DEADLINE_MS,
    ).catch(() => undefined);
  }

  check(history: readonly HistoryEvent[]): Verdict {
    const reference = new Map<number, Observed>();
    const anomalies: Anomaly[] = [];
    this.seen.forEach((observed, watcher) => {
      anomalies.push(...disorder(watcher, observed));
      for (const event of observed) {
        const known = reference.get(event.revision);
        if (known !== undefined && (known.key !== event.key || known.value !== event.value)) {
          anomalies.push({ kind: "divergence", detail: `watcher ${watcher} saw ${describe(event)} where another saw ${describe(known)}` });
        }
        reference.set(event.revision, known ?? event);
      }
    });
    const revisions = [...reference.keys()].filter((revision) => revision <= this.finalRevision).sort((a, b) => a - b);
    for (const [watcher, observed] of this.seen.entries()) anomalies.push(...gaps(watcher, observed, revisions, this.finalRevision));
    for (const [value, revision] of this.acknowledged) {
      if (reference.get(revision)?.value !== value) {
        anomalies.push({ kind: "lost", detail: `the put of ${value}, acknowledged at revision ${revision}, is not what watchers saw there` });
      }
    }
    return verdictOf(completedOperations(history, "write").length + this.seen.reduce((sum, observed) => sum + observed.length, 0), anomalies);
  }

  private urls(): string[] {
    return this.context.driver.nodes.map((node) => this.context.driver.clientUrl(node));
  }

  /** Streams until `signal` aborts, resuming after the last revision seen on the next member whenever a stream ends. */
  private async watch(watcher: number, observed: Observed[], signal: AbortSignal): Promise<void> {
    const urls = this.urls();
    for (let attempt = watcher; !signal.aborted; attempt++) {
      const from = (observed.at(-1)?.revision ?? this.startRevision - 1) + 1;
      await this.stream(urls[attempt % urls.length]!, from, observed, signal).catch(() => undefined);
      await delay(100, signal);
    }
  }

  private async stream(url: string, from: number, observed: Observed[], signal: AbortSignal): Promise<void> {
    const idle = abortWithAny(signal);
    let timer = setTimeout(() => idle.abort(), IDLE_MS);
    try {
      await this.context.store.watch(url, PREFIX, from, idle.signal, (events) => {
        clearTimeout(timer);
        timer = setTimeout(() => idle.abort(), IDLE_MS);
        observed.push(...events);
      });
    } finally {
      clearTimeout(timer);
      idle.abort();
    }
  }
}

/** Revisions that repeat or go back within one watcher's stream. */
function disorder(watcher: number, observed: readonly Observed[]): Anomaly[] {
  return observed.flatMap((event, i) => {
    const previous = observed[i - 1];
    if (previous === undefined || event.revision > previous.revision) return [];
    const kind = event.revision === previous.revision ? "duplicate" : "out of order";
    return [{ kind, detail: `watcher ${watcher} saw ${describe(event)} right after ${describe(previous)}` }];
  });
}

/** Revisions some watcher saw, up to the final one, that this watcher never did. */
function gaps(watcher: number, observed: readonly Observed[], revisions: readonly number[], finalRevision: number): Anomaly[] {
  const own = new Set(observed.map((event) => event.revision));
  const missing = revisions.filter((revision) => !own.has(revision));
  if (missing.length === 0) return [];
  const stalled = (observed.at(-1)?.revision ?? 0) < finalRevision ? ` (it stopped at revision ${observed.at(-1)?.revision ?? "none"})` : "";
  return [{ kind: "gap", detail: `watcher ${watcher} missed ${missing.length} revisions seen by others, first ${missing.slice(0, 10).join(", ")}${stalled}` }];
}

function describe(event: Observed): string {
  return `revision ${event.revision} (${event.key} = ${event.value})`;
}
