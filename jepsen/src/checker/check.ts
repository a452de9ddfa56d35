/**
 * Checks a history against a model, one key at a time: a store of
 * independent registers is linearizable exactly when each register is.
 * The keys' searches share the time round-robin, so one hard key cannot
 * keep the others from being decided before the deadline.
 */
import type { HistoryEvent } from "./history.js";
import type { Model } from "./model.js";
import { partitionHistory, type Operation, type Partition } from "./operations.js";
import { LinearizabilitySearch, type DeadEnd } from "./search.js";
import type { Value } from "./value.js";

/** As Jepsen says it: `"unknown"` when the search ran out of time. */
export type Validity = true | false | "unknown";

export interface CheckOptions {
  /** Wall-clock time for the whole search; default one minute. */
  readonly timeoutMs?: number;
}

export interface Failure extends DeadEnd {
  /** The operations whose intervals overlap the one that could not be linearized. */
  readonly concurrent: readonly Operation[];
}

export interface PartitionResult {
  /** Undefined for a history without keys. */
  readonly key: Value | undefined;
  readonly valid: Validity;
  readonly operations: number;
  /** Search steps taken, a measure of how hard the key was. */
  readonly steps: number;
  readonly failure?: Failure;
}

export interface CheckResult {
  readonly valid: Validity;
  readonly model: string;
  readonly operations: number;
  readonly partitions: readonly PartitionResult[];
  readonly elapsedMs: number;
}

export const DEFAULT_TIMEOUT_MS = 60_000;

/** Steps a search takes before yielding to the next key and looking at the clock: milliseconds of work. */
const SLICE_STEPS = 10_000;

/** Reads a history's operations and checks them; throws `HistoryError` on a malformed history. */
export function checkHistory<State>(events: readonly HistoryEvent[], model: Model<State>, options: CheckOptions = {}): CheckResult {
  return checkPartitions(partitionHistory(events, model), model, options);
}

export function checkPartitions<State>(partitions: readonly Partition[], model: Model<State>, options: CheckOptions = {}): CheckResult {
  const started = performance.now();
  const deadline = started + (options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  const searches = partitions.map((partition) => new LinearizabilitySearch(model, partition.operations));
  let undecided = searches;
  do {
    for (const search of undecided) search.run(SLICE_STEPS);
    undecided = undecided.filter((search) => search.status === "searching");
  } while (undecided.length > 0 && performance.now() < deadline);
  const results = partitions.map((partition, index) => partitionResult(partition, searches[index]!));
  return {
    valid: overallValidity(results),
    model: model.name,
    operations: partitions.reduce((sum, partition) => sum + partition.operations.length, 0),
    partitions: results,
    elapsedMs: performance.now() - started,
  };
}

function partitionResult<State>(partition: Partition, search: LinearizabilitySearch<State>): PartitionResult {
  const deadEnd = search.deadEnd();
  return {
    key: partition.key,
    valid: search.status === "searching" ? "unknown" : search.status === "linearizable",
    operations: partition.operations.length,
    steps: search.steps,
    ...(deadEnd && { failure: { ...deadEnd, concurrent: overlapping(deadEnd.operation, partition.operations) } }),
  };
}

/** One key that is not linearizable decides the history, even while others are unknown. */
function overallValidity(results: readonly PartitionResult[]): Validity {
  if (results.some((result) => result.valid === false)) return false;
  return results.some((result) => result.valid === "unknown") ? "unknown" : true;
}

function overlapping(target: Operation, operations: readonly Operation[]): Operation[] {
  return operations.filter((op) => op !== target && op.callAt < target.returnAt && target.callAt < op.returnAt);
}
