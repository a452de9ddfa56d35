/**
 * Who leads, asked of every member a few times a second while the clients
 * run: the stretches in which no member said it leads. Under churn this is
 * the figure the clients' outages come from, measured from the cluster's side.
 * The stretches in which a quorum of members answered all along are the
 * cluster's own doing: without a quorum up, no member can lead, however
 * quickly it elects.
 */
import { memberStatuses, type ClusterDriver } from "./cluster.js";
import type { Recorder } from "./recorder.js";
import { delay } from "./wait.js";

const POLL_MS = 50;
/** A member slower than this to say who leads does not count as leading. */
const STATUS_TIMEOUT_MS = 1_000;

export interface LeaderSample {
  /** Run time (ms since the clients started) when the round of questions went out. */
  readonly time: number;
  readonly led: boolean;
  /** Whether a majority of the members answered. */
  readonly quorum: boolean;
}

export class LeaderWatch {
  private readonly samples: LeaderSample[] = [];

  constructor(
    private readonly driver: ClusterDriver,
    private readonly recorder: Recorder,
  ) {}

  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      const time = this.recorder.now();
      const statuses = await memberStatuses(this.driver, STATUS_TIMEOUT_MS);
      const led = statuses.some((status) => status.memberId === status.leaderId);
      this.samples.push({ time, led, quorum: statuses.length > this.driver.nodes.length / 2 });
      await delay(POLL_MS, signal);
    }
  }

  longestLeaderlessMs(): number {
    return longestLeaderlessMs(this.samples);
  }

  longestLeaderlessWithQuorumMs(): number {
    return longestLeaderlessWithQuorumMs(this.samples);
  }
}

/** The longest time from a round in which no member led to the next round in which one did (or the last round). */
export function longestLeaderlessMs(samples: readonly LeaderSample[]): number {
  return longestStretchMs(samples, (sample) => !sample.led);
}

/** The same, counting only rounds in which a quorum answered: a round without one ends the stretch. */
export function longestLeaderlessWithQuorumMs(samples: readonly LeaderSample[]): number {
  return longestStretchMs(samples, (sample) => !sample.led && sample.quorum);
}

/** The longest time from a round `within` holds for to the next round it does not (or the last round). */
function longestStretchMs(samples: readonly LeaderSample[], within: (sample: LeaderSample) => boolean): number {
  let longest = 0;
  let since: number | undefined;
  for (const sample of samples) {
    if (within(sample)) since ??= sample.time;
    else if (since !== undefined) {
      longest = Math.max(longest, sample.time - since);
      since = undefined;
    }
  }
  const last = samples.at(-1);
  return since === undefined || last === undefined ? longest : Math.max(longest, last.time - since);
}
