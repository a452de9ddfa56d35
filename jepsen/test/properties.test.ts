/**
 * Properties over generated histories: what a simulated linearizable
 * register records is always accepted, an injected anomaly is always
 * rejected at the right operation, and on small arbitrary histories the
 * search agrees with trying every order by brute force.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import {
  checkHistory,
  formatEdnHistory,
  formatJsonl,
  generateRegisterHistory,
  injectAnomaly,
  parseEdnHistory,
  parseJsonl,
  partitionHistory,
  registerModel,
  type HistoryEvent,
  type Operation,
  type Value,
} from "../src/index.js";

const TIMEOUT_MS = 20_000;

const generatorOptions = fc.record({
  seed: fc.integer(),
  operations: fc.integer({ min: 1, max: 300 }),
  processes: fc.integer({ min: 1, max: 8 }),
  keys: fc.integer({ min: 1, max: 3 }),
  crashRate: fc.double({ min: 0, max: 0.2, noNaN: true }),
});

describe("generated histories", () => {
  test("a linearizable register's history is accepted, read back from either format", () => {
    fc.assert(
      fc.property(generatorOptions, fc.option(fc.integer({ min: 1, max: 5 }), { nil: undefined }), (options, values) => {
        const events = generateRegisterHistory({ ...options, ...(values !== undefined && { values }) });
        assert.deepEqual(parseEdnHistory(formatEdnHistory(events)), events);
        assert.deepEqual(parseJsonl(formatJsonl(events)), events);
        const result = checkHistory(events, registerModel, { timeoutMs: TIMEOUT_MS });
        assert.equal(result.valid, true);
      }),
      { numRuns: 150 },
    );
  });

  test("an injected stale or phantom read is rejected, and reported as the failing operation", () => {
    fc.assert(
      fc.property(generatorOptions, fc.constantFrom("stale-read", "phantom-read" as const), fc.integer(), (options, anomaly, seed) => {
        const injected = injectAnomaly(generateRegisterHistory(options), anomaly, seed);
        fc.pre(injected !== undefined);
        const result = checkHistory(injected!.events, registerModel, { timeoutMs: TIMEOUT_MS });
        assert.equal(result.valid, false);
        const failures = result.partitions.flatMap((partition) => (partition.failure ? [partition.failure] : []));
        assert.deepEqual(
          failures.map((failure) => failure.operation.completion?.line),
          [injected!.completionLine],
        );
      }),
      { numRuns: 150 },
    );
  });
});

/** Small arbitrary histories: each process runs its operations in turn, as the schedule picks processes. */
const smallHistory = fc
  .record({
    operations: fc.array(
      fc.record({
        process: fc.integer({ min: 0, max: 2 }),
        f: fc.constantFrom("read", "write", "cas"),
        value: fc.constantFrom<Value>(null, 1, 2),
        expected: fc.constantFrom<Value>(null, 1, 2),
        outcome: fc.constantFrom("ok", "ok", "fail", "info", "never"),
      }),
      { maxLength: 7 },
    ),
    schedule: fc.array(fc.integer({ min: 0, max: 2 }), { maxLength: 30 }),
  })
  .map(({ operations, schedule }) => {
    const queues = [0, 1, 2].map((process) => operations.filter((op) => op.process === process));
    const pending = new Map<number, (typeof operations)[number]>();
    const events: HistoryEvent[] = [];
    const emit = (process: number, type: HistoryEvent["type"], op: (typeof operations)[number]) => {
      const value = op.f === "cas" ? [op.expected, op.value] : type === "invoke" && op.f === "read" ? null : op.value;
      events.push({ process, type, f: op.f, value, line: events.length + 1 });
    };
    for (const process of [...schedule, 0, 1, 2, 0, 1, 2].flatMap((p) => [p, p])) {
      const open = pending.get(process);
      if (open !== undefined) {
        pending.delete(process);
        if (open.outcome !== "never") emit(process, open.outcome as HistoryEvent["type"], open);
        else queues[process] = [];
      } else {
        const next = queues[process]!.shift();
        if (next === undefined) continue;
        pending.set(process, next);
        emit(process, "invoke", next);
      }
    }
    return events;
  });

/** Tries every order of the operations that respects real time, leaving crashed ones in or out. */
function linearizableByBruteForce(operations: readonly Operation[]): boolean {
  const okCount = operations.filter((op) => op.outcome === "ok").length;
  const placed = new Set<Operation>();
  const extend = (state: Value, okPlaced: number): boolean => {
    if (okPlaced === okCount) return true;
    return operations.some((op) => {
      if (placed.has(op)) return false;
      const overtakes = operations.some((other) => !placed.has(other) && other.returnAt < op.callAt);
      const next = overtakes ? undefined : registerModel.step(state, op);
      if (next === undefined) return false;
      placed.add(op);
      const found = extend(next, okPlaced + (op.outcome === "ok" ? 1 : 0));
      placed.delete(op);
      return found;
    });
  };
  return extend(registerModel.initialState, 0);
}

describe("small arbitrary histories", () => {
  test("the search agrees with brute force", () => {
    const verdicts = { linearizable: 0, not: 0, withCrashes: 0 };
    fc.assert(
      fc.property(smallHistory, (events) => {
        const operations = partitionHistory(events, registerModel).flatMap((partition) => partition.operations);
        const expected = linearizableByBruteForce(operations);
        assert.equal(checkHistory(events, registerModel).valid, expected);
        verdicts[expected ? "linearizable" : "not"]++;
        if (operations.some((op) => op.outcome === "info")) verdicts.withCrashes++;
      }),
      { numRuns: 3000 },
    );
    // The generator must exercise both answers, and crashes, to mean anything.
    assert.ok(verdicts.linearizable > 300 && verdicts.not > 300 && verdicts.withCrashes > 300, JSON.stringify(verdicts));
  });
});
