/** Check results for people (text) and for programs (plain JSON-ready objects). */
import type { CheckResult, Failure, PartitionResult, Validity } from "./check.js";
import type { Operation } from "./operations.js";
import { encodeValue, jsonReplacer, type Value } from "./value.js";

/** How much of the longest linearizable prefix the text report shows. */
const PREFIX_SHOWN = 10;

export function formatReport(result: CheckResult): string {
  const keyed = result.partitions.some((partition) => partition.key !== undefined);
  const scope = keyed ? `${result.operations} operations on ${result.partitions.length} keys` : `${result.operations} operations`;
  const lines = [`${VERDICTS.get(result.valid)}: ${scope}, ${result.model} model, ${Math.round(result.elapsedMs)} ms.`];
  for (const partition of result.partitions) {
    if (partition.valid === "unknown") lines.push(`${subject(partition)}: unknown, the search timed out after ${partition.steps} steps.`);
    if (partition.failure) lines.push(...describeFailure(subject(partition), partition.failure, result.model));
  }
  return `${lines.join("\n")}\n`;
}

export function reportJson(result: CheckResult): string {
  return JSON.stringify(
    {
      valid: result.valid,
      model: result.model,
      operations: result.operations,
      elapsedMs: Math.round(result.elapsedMs),
      partitions: result.partitions.map(partitionJson),
    },
    jsonReplacer,
    2,
  );
}

const VERDICTS = new Map<Validity, string>([
  [true, "Linearizable"],
  [false, "NOT linearizable"],
  ["unknown", "Unknown"],
]);

function subject(partition: PartitionResult): string {
  return partition.key === undefined ? "The history" : `Key ${encodeValue(partition.key)}`;
}

function describeFailure(subject: string, failure: Failure, model: string): string[] {
  const prefix = failure.linearized;
  const shown = prefix.slice(-PREFIX_SHOWN);
  return [
    `${subject}: ${describeOperation(failure.operation)} cannot be linearized.`,
    `  When it was due, the ${model} could only be: ${failure.possibleStates.map(encodeValue).join(" or ")}`,
    `  Concurrent with it:${failure.concurrent.length === 0 ? " nothing" : ""}`,
    ...failure.concurrent.map((op) => `    ${describeOperation(op)}`),
    `  Longest linearizable prefix found: ${prefix.length} operations` +
      (prefix.length > shown.length ? `, the last ${shown.length} shown` : "") +
      (shown.length > 0 ? ", each with the state it left:" : "."),
    ...shown.map(({ operation, state }) => `    ${describeOperation(operation)}  -> ${encodeValue(state)}`),
  ];
}

function describeOperation(op: Operation): string {
  const lines = op.completion ? `lines ${op.invocation.line}-${op.completion.line}` : `line ${op.invocation.line}`;
  const outcome = op.outcome === "ok" ? "ok" : op.completion ? "crashed" : "never completed";
  return `process ${op.process} ${op.f} ${encodeValue(op.value)} (${outcome}, ${lines})`;
}

function partitionJson(partition: PartitionResult): object {
  return {
    key: partition.key ?? null,
    valid: partition.valid,
    operations: partition.operations,
    steps: partition.steps,
    ...(partition.failure && { failure: failureJson(partition.failure) }),
  };
}

function failureJson(failure: Failure): object {
  return {
    operation: operationJson(failure.operation),
    possibleStates: failure.possibleStates,
    concurrent: failure.concurrent.map(operationJson),
    linearized: failure.linearized.map(({ operation, state }) => ({ ...operationJson(operation), state })),
  };
}

function operationJson(op: Operation): { [field: string]: Value | undefined } {
  return {
    process: op.process,
    type: op.outcome,
    f: op.f,
    ...(op.key !== undefined && { key: op.key }),
    value: op.value,
    line: op.invocation.line,
    ...(op.completion && { completionLine: op.completion.line }),
  };
}
