/** Checks histories written inline as EDN, the way Knossos's examples read. */
import { checkHistory, parseEdnHistory, registerModel, type CheckOptions, type CheckResult, type Model } from "../../src/index.js";

export function checkEdn(edn: string, model: Model<unknown> = registerModel, options: CheckOptions = {}): CheckResult {
  return checkHistory(parseEdnHistory(edn), model, options);
}

/** The one failure of a result, which must have exactly one. */
export function onlyFailure(result: CheckResult) {
  const failures = result.partitions.flatMap((partition) => (partition.failure ? [partition.failure] : []));
  if (failures.length !== 1) throw new Error(`expected one failure, found ${failures.length}`);
  return failures[0]!;
}
