/**
 * Histories with known answers, for tests and benchmarks: clients of a
 * simulated linearizable register (or one register per key) with random
 * concurrency and crashes, and anomalies injected into such histories.
 */
import type { HistoryEvent } from "./history.js";
import { encodeValue, isValueList, type Value } from "./value.js";

export interface GeneratorOptions {
  readonly seed: number;
  /** Operations invoked in all. */
  readonly operations: number;
  /** Clients working at once. */
  readonly processes: number;
  /** Registers; with more than one, events carry a `key`. Default 1. */
  readonly keys?: number;
  /** The chance that an operation crashes (`info`), before or after taking effect. Default 0. */
  readonly crashRate?: number;
  /**
   * Write values drawn from 0 to `values` - 1, as Jepsen's register tests
   * do. By default every write has a value of its own (1, 2, 3, …), which
   * `injectAnomaly` relies on.
   */
  readonly values?: number;
}

export type Anomaly = "stale-read" | "phantom-read";

/** An injected anomaly: the history, and the read's completion that now returns an impossible value. */
export interface InjectedAnomaly {
  readonly events: HistoryEvent[];
  readonly completionLine: number;
}

/** A value no generated history writes: generated writes count up from 1. */
const NEVER_WRITTEN = -1;

interface PendingOperation {
  readonly f: "read" | "write" | "cas";
  readonly key: number;
  readonly value: Value;
  /** Set once the operation has taken effect on the register. */
  outcome?: { readonly value: Value; readonly succeeded: boolean };
}

interface Client {
  process: number;
  pending?: PendingOperation;
}

/**
 * Each step, a random client moves on by one stage: invoke, take effect on
 * the register, complete. Operations take effect atomically somewhere inside
 * their interval, so the history is linearizable by construction. A crash
 * replaces the client with a new process id, as Jepsen does.
 */
export function generateRegisterHistory(options: GeneratorOptions): HistoryEvent[] {
  const random = new Random(options.seed);
  const keys = options.keys ?? 1;
  const crashRate = options.crashRate ?? 0;
  const registers = new Map<number, Value>();
  const written: Value[] = [null];
  const clients: Client[] = Array.from({ length: options.processes }, (_, process) => ({ process }));
  const events: HistoryEvent[] = [];
  let invoked = 0;
  let counter = 0;
  const newValue = () => (options.values === undefined ? ++counter : random.below(options.values));

  const emit = (client: Client, type: HistoryEvent["type"], op: PendingOperation, value: Value) => {
    const line = events.length + 1;
    events.push({ process: client.process, type, f: op.f, ...(keys > 1 && { key: op.key }), value, time: line * 1000, line });
  };
  const invoke = (client: Client) => {
    const key = random.below(keys);
    const roll = random.below(10);
    const op: PendingOperation =
      roll < 5
        ? { f: "read", key, value: null }
        : roll < 8
          ? { f: "write", key, value: newValue() }
          : { f: "cas", key, value: [random.chance(0.5) ? (registers.get(key) ?? null) : random.pick(written), newValue()] };
    client.pending = op;
    invoked++;
    emit(client, "invoke", op, op.value);
  };
  const takeEffect = (op: PendingOperation) => {
    const current = registers.get(op.key) ?? null;
    if (op.f === "read") op.outcome = { value: current, succeeded: true };
    else {
      const [expected, next] = op.f === "cas" ? (op.value as [Value, Value]) : [current, op.value];
      const succeeded = expected === current;
      if (succeeded) {
        registers.set(op.key, next);
        written.push(next);
      }
      op.outcome = { value: op.value, succeeded };
    }
  };
  const crash = (client: Client, op: PendingOperation) => {
    emit(client, "info", op, op.value);
    client.process += options.processes;
    delete client.pending;
  };
  const complete = (client: Client, op: PendingOperation, outcome: NonNullable<PendingOperation["outcome"]>) => {
    emit(client, outcome.succeeded ? "ok" : "fail", op, outcome.value);
    delete client.pending;
  };

  while (invoked < options.operations || clients.some((client) => client.pending)) {
    const client = random.pick(clients);
    const op = client.pending;
    if (op === undefined) {
      if (invoked < options.operations) invoke(client);
    } else if (random.chance(crashRate / 2)) crash(client, op);
    else if (op.outcome === undefined) takeEffect(op);
    else complete(client, op, op.outcome);
  }
  return events;
}

/**
 * Makes one successful read of a register history impossible:
 * - `phantom-read` returns a value nobody wrote;
 * - `stale-read` returns the value of a write W although another write U,
 *   invoked after W completed, completed before the read was invoked. Values
 *   are unique per write, so nothing else could have written it back.
 * Returns undefined when the history has no read that fits.
 */
export function injectAnomaly(events: readonly HistoryEvent[], anomaly: Anomaly, seed: number): InjectedAnomaly | undefined {
  const candidates = anomaly === "phantom-read" ? phantomReads(events) : staleReads(events);
  if (candidates.length === 0) return undefined;
  const { completion, value } = new Random(seed).pick(candidates);
  const injected = [...events];
  injected[completion] = { ...events[completion]!, value };
  return { events: injected, completionLine: events[completion]!.line };
}

interface Candidate {
  /** The index of an `ok` read's completion. */
  readonly completion: number;
  readonly value: Value;
}

function phantomReads(events: readonly HistoryEvent[]): Candidate[] {
  return [...completionsOf(events)]
    .filter(({ invocation, completion }) => invocation.f === "read" && completion.type === "ok")
    .map(({ index }) => ({ completion: index, value: NEVER_WRITTEN }));
}

function staleReads(events: readonly HistoryEvent[]): Candidate[] {
  const lastWritten = new Map<string, Value>(); // per key, the latest completed write's value
  const overwritable = new Map<HistoryEvent, Value>(); // per write invocation, a value already written when it began
  const stale = new Map<string, Value>(); // per key, a value a completed write has since replaced
  const readsInvokedWhenStale = new Map<HistoryEvent, Value>();
  const candidates: Candidate[] = [];
  for (const { invocation, completion, index } of completionsOf(events, (invocation) => {
    const key = encodeValue(invocation.key ?? null);
    if (invocation.f === "read" && stale.has(key)) readsInvokedWhenStale.set(invocation, stale.get(key)!);
    if (invocation.f !== "read" && lastWritten.has(key)) overwritable.set(invocation, lastWritten.get(key)!);
  })) {
    if (completion.type !== "ok") continue;
    const key = encodeValue(invocation.key ?? null);
    if (invocation.f === "read") {
      const staleValue = readsInvokedWhenStale.get(invocation);
      if (staleValue !== undefined) candidates.push({ completion: index, value: staleValue });
      continue;
    }
    const replaced = overwritable.get(invocation);
    if (replaced !== undefined) stale.set(key, replaced);
    lastWritten.set(key, writtenValue(invocation));
  }
  return candidates;
}

function writtenValue(invocation: HistoryEvent): Value {
  const value = invocation.value ?? null;
  return invocation.f === "cas" && isValueList(value) ? (value[1] ?? null) : value;
}

interface Completed {
  readonly invocation: HistoryEvent;
  readonly completion: HistoryEvent;
  readonly index: number;
}

/** Walks a history in order, calling `onInvoke` at each invocation and yielding each completion with its invocation. */
function* completionsOf(events: readonly HistoryEvent[], onInvoke: (invocation: HistoryEvent) => void = () => {}): Generator<Completed> {
  const pending = new Map<HistoryEvent["process"], HistoryEvent>();
  for (const [index, event] of events.entries()) {
    if (event.type === "invoke") {
      pending.set(event.process, event);
      onInvoke(event);
      continue;
    }
    const invocation = pending.get(event.process);
    pending.delete(event.process);
    if (invocation !== undefined) yield { invocation, completion: event, index };
  }
}

/** mulberry32: small, fast and seeded, so that every history can be made again from its seed. */
class Random {
  private state: number;

  constructor(seed: number) {
    this.state = seed | 0;
  }

  next(): number {
    this.state = (this.state + 0x6d2b79f5) | 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  below(bound: number): number {
    return Math.floor(this.next() * bound);
  }

  chance(probability: number): boolean {
    return this.next() < probability;
  }

  pick<Item>(items: readonly Item[]): Item {
    return items[this.below(items.length)]!;
  }
}
