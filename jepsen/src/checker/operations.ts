/**
 * Turns a history's events into operations with real-time intervals, the
 * way Knossos reads a history:
 * - an `invoke` and its `fail` never happened, and are dropped;
 * - an `info` completion (a crash or a timeout) may have taken effect at any
 *   time after its invoke, or never: it has no return, and so does an invoke
 *   the history never completes;
 * - a crashed pure observation (a read) constrains nothing, and is dropped;
 * - a process that invokes again after an `info` is a new logical process:
 *   its crashed operation may still take effect during the new one.
 * Events of the `nemesis` process are fault injections and are ignored.
 */
import { HistoryError, NEMESIS, type HistoryEvent, type ProcessId } from "./history.js";
import type { Model, ModelOperation } from "./model.js";
import { encodeValue, type Value } from "./value.js";

export interface Operation extends ModelOperation {
  readonly process: ProcessId;
  readonly key: Value | undefined;
  /** `ok` operations happened within their interval; `info` ones maybe, any time after their call. */
  readonly outcome: "ok" | "info";
  readonly invocation: HistoryEvent;
  readonly completion: HistoryEvent | undefined;
  /** Positions in the history's real-time order. */
  readonly callAt: number;
  /** `Infinity` for an operation that may take effect any time after its call. */
  readonly returnAt: number;
}

/** The operations on one key, which are checked apart from every other key's. */
export interface Partition {
  readonly key: Value | undefined;
  readonly operations: readonly Operation[];
}

export function partitionHistory(events: readonly HistoryEvent[], model: Model<unknown>): Partition[] {
  const operations = pairEvents(realTimeOrder(events)).filter((op) => !(op.outcome === "info" && model.isObservation(op)));
  for (const op of operations) {
    const problem = model.validate(op);
    if (problem !== undefined) throw new HistoryError(problem, op.invocation.line);
  }
  return byKey(operations);
}

/**
 * The file's order, or the order of the `time` fields when every event has
 * one, so that logs merged from several clients need not be interleaved by
 * hand. The sort is stable: events with equal times keep the file's order.
 */
function realTimeOrder(events: readonly HistoryEvent[]): readonly HistoryEvent[] {
  const clientEvents = events.filter((event) => event.process !== NEMESIS);
  if (!clientEvents.every((event) => event.time !== undefined)) return clientEvents;
  return clientEvents.sort((a, b) => (a.time ?? 0) - (b.time ?? 0));
}

function pairEvents(events: readonly HistoryEvent[]): Operation[] {
  const pending = new Map<ProcessId, { readonly invocation: HistoryEvent; readonly callAt: number }>();
  const operations: Operation[] = [];
  events.forEach((event, position) => {
    const open = pending.get(event.process);
    if (event.type === "invoke") {
      if (open !== undefined) {
        throw new HistoryError(
          `process ${event.process} invokes again while its ${open.invocation.f} from line ${open.invocation.line} is pending`,
          event.line,
        );
      }
      pending.set(event.process, { invocation: event, callAt: position });
      return;
    }
    if (open === undefined) throw new HistoryError(`process ${event.process} completes ${event.f} it never invoked`, event.line);
    checkCompletes(open.invocation, event);
    pending.delete(event.process);
    if (event.type !== "fail") operations.push(operation(open.invocation, open.callAt, event, position));
  });
  for (const { invocation, callAt } of pending.values()) operations.push(operation(invocation, callAt, undefined, Infinity));
  return operations.sort((a, b) => a.callAt - b.callAt);
}

function checkCompletes(invocation: HistoryEvent, completion: HistoryEvent): void {
  if (completion.f !== invocation.f) {
    throw new HistoryError(`${completion.f} completes the ${invocation.f} invoked at line ${invocation.line}`, completion.line);
  }
  if (completion.key !== undefined && encodeValue(completion.key) !== encodeValue(invocation.key ?? null)) {
    throw new HistoryError(`the key differs from the one invoked at line ${invocation.line}`, completion.line);
  }
}

/** An `ok` operation's value is what it returned, if the completion says; otherwise what was asked. */
function operation(invocation: HistoryEvent, callAt: number, completion: HistoryEvent | undefined, position: number): Operation {
  const ok = completion?.type === "ok";
  const value = ok && completion.value !== undefined ? completion.value : invocation.value;
  return {
    process: invocation.process,
    f: invocation.f,
    key: invocation.key,
    value: value ?? null,
    outcome: ok ? "ok" : "info",
    invocation,
    completion,
    callAt,
    returnAt: ok ? position : Infinity,
  };
}

function byKey(operations: readonly Operation[]): Partition[] {
  const partitions = new Map<string, { key: Value | undefined; operations: Operation[] }>();
  for (const op of operations) {
    const name = op.key === undefined ? "" : encodeValue(op.key);
    let partition = partitions.get(name);
    if (partition === undefined) {
      partition = { key: op.key, operations: [] };
      partitions.set(name, partition);
    }
    partition.operations.push(op);
  }
  return [...partitions.values()];
}
