/**
 * A linearizability check of one register (one key) under put, read and
 * compare-and-set, by the search of Wing and Gong with Lowe's memo of the
 * states already tried. An operation whose outcome the client never learnt
 * (its call failed or timed out) may take effect at any point after it was
 * invoked, or never. Keys are independent, so a history is checked key by
 * key.
 */

/** A register's value; undefined while the key does not exist. */
export type Value = string | undefined;

export type RegisterOp =
  | { readonly kind: "put"; readonly value: string }
  | { readonly kind: "read"; readonly value: Value }
  | { readonly kind: "cas"; readonly expected: string; readonly value: string; readonly succeeded: boolean | undefined };

export interface TimedOp {
  readonly op: RegisterOp;
  /** Positions in the history's order of events; `completed` is undefined when the outcome is unknown. */
  readonly invoked: number;
  readonly completed: number | undefined;
}

/** Returns undefined if the history is linearizable, else why not. */
export function checkRegister(history: readonly TimedOp[]): string | undefined {
  const observed = observedValues(history);
  // A read whose outcome is unknown changed nothing: leave it out. So are unknown writes
  // nobody saw (see UNSEEN), which the search treats as one repeatable write.
  const unseen = history.filter((each) => each.completed === undefined && each.op.kind !== "read" && !observed.has(each.op.value));
  const ops = history.filter((each) => (each.completed !== undefined || each.op.kind !== "read") && !unseen.includes(each));
  const required = ops.filter((each) => each.completed !== undefined).length;
  const tried = new Set<string>();
  const placed: boolean[] = ops.map(() => false);

  const search = (state: Value, placedRequired: number): boolean => {
    if (placedRequired === required) return true;
    const memo = `${placed.map((each) => (each ? "1" : "0")).join("")}|${state ?? "\u0000"}`;
    if (tried.has(memo)) return false;
    tried.add(memo);
    // Only an operation invoked before every unplaced one completed can go next.
    const horizon = Math.min(...ops.filter((each, i) => !placed[i] && each.completed !== undefined).map((each) => each.completed as number));
    for (let i = 0; i < ops.length; i++) {
      const candidate = ops[i] as TimedOp;
      if (placed[i] || candidate.invoked > horizon) continue;
      const next = step(state, candidate);
      if (next === REFUSED) continue;
      placed[i] = true;
      if (search(next, placedRequired + (candidate.completed === undefined ? 0 : 1))) return true;
      placed[i] = false;
    }
    const unseenCanLand = unseen.some((each) => each.invoked <= horizon && step(state, each) !== REFUSED);
    return state !== UNSEEN && unseenCanLand && search(UNSEEN, placedRequired);
  };
  if (search(undefined, 0)) return undefined;
  return `no order of the ${ops.length} operations (and ${unseen.length} unknown writes nobody saw) explains the results`;
}

/**
 * The value an unknown write nobody saw leaves. Such writes matter only in
 * making a later compare fail, so rather than trying each at each point (a
 * search exponential in their number, and a cluster without a quorum makes
 * dozens), one may land at any point after its invocation, even more than
 * once. That can miss a history needing two such writes where one was made;
 * it never rejects a linearizable one.
 */
const UNSEEN = "\u0001unseen";

/** Values a client saw: read, or found by a compare-and-set that succeeded. */
function observedValues(history: readonly TimedOp[]): Set<Value> {
  const observed = new Set<Value>();
  for (const { op, completed } of history) {
    if (completed === undefined) continue;
    if (op.kind === "read") observed.add(op.value);
    if (op.kind === "cas" && op.succeeded) observed.add(op.expected);
  }
  return observed;
}

const REFUSED = Symbol("refused");

/** The state after `timed` takes effect in `state`, or REFUSED if its result rules that out. */
function step(state: Value, { op, completed }: TimedOp): Value | typeof REFUSED {
  switch (op.kind) {
    case "put":
      return op.value;
    case "read":
      return op.value === state ? state : REFUSED;
    case "cas": {
      const matches = state === op.expected;
      // Unknown: placed only where it took effect (where it did not, it changed nothing and need not be placed).
      if (completed === undefined || op.succeeded === undefined) return matches ? op.value : REFUSED;
      if (op.succeeded !== matches) return REFUSED;
      return matches ? op.value : state;
    }
  }
}
