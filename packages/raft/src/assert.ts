/**
 * Invariant checks. A broken invariant stops the node at the step that broke
 * it, with a message naming the invariant, instead of corrupting state later.
 */
export class InvariantViolation extends Error {
  override readonly name = "InvariantViolation";
}

export function invariant(condition: boolean, describe: string | (() => string)): asserts condition {
  if (!condition) {
    throw new InvariantViolation(typeof describe === "string" ? describe : describe());
  }
}
