/**
 * A model is the sequential specification an operation history is checked
 * against: a state, and which operations may happen in which state.
 */
import { encodeValue, isValueList, valuesEqual, type Value } from "./value.js";

/** What a model sees of an operation: its function and its value (a read's value is what it returned). */
export interface ModelOperation {
  readonly f: string;
  readonly value: Value;
}

export interface Model<State> {
  readonly name: string;
  readonly initialState: State;
  /** Why `op` cannot be an operation of this model, or undefined when it can. */
  validate(op: ModelOperation): string | undefined;
  /**
   * True when `op` only observes the state. Such an op that crashed told us
   * nothing, so the checker drops it.
   */
  isObservation(op: ModelOperation): boolean;
  /** The state after `op`, or undefined when `op` could not have happened as recorded in `state`. */
  step(state: State, op: ModelOperation): State | undefined;
  /** The state as a value: equal states must give equal values, as the search memoizes on them. */
  stateValue(state: State): Value;
  /**
   * Optional, to keep searches small: the crashed operations that no
   * linearization needs, given every operation on the key. The checker
   * leaves them out.
   */
  needlessCrashes?(crashed: readonly ModelOperation[], all: readonly ModelOperation[]): ReadonlySet<ModelOperation>;
}

/**
 * A single register, initially nil: `read` returns the value, `write`
 * replaces it, `cas` with `[expected, new]` replaces it only if it holds
 * `expected`. A compare-and-set that found another value reports `fail`, and
 * failed operations are dropped before the model sees them, so every `cas`
 * here succeeded.
 */
export const registerModel: Model<Value> = {
  name: "register",
  initialState: null,
  validate(op) {
    switch (op.f) {
      case "read":
      case "write":
        return undefined;
      case "cas":
        return isPair(op.value) ? undefined : `cas needs [expected new], not ${encodeValue(op.value)}`;
      default:
        return `a register has read, write and cas, not ${op.f}`;
    }
  },
  isObservation: (op) => op.f === "read",
  step(state, op) {
    if (op.f === "write") return op.value;
    if (op.f === "read") return valuesEqual(state, op.value) ? state : undefined;
    const [expected, next] = op.value as readonly [Value, Value];
    return valuesEqual(state, expected) ? next : undefined;
  },
  stateValue: (state) => state,
  /**
   * A crashed write (or compare-and-set) of a value no operation reads or
   * expects can be left out: only a write can come after it before the
   * register is observed again, and that write hides it.
   */
  needlessCrashes(crashed, all) {
    const observed = new Set(all.flatMap(observedValue).map(encodeValue));
    return new Set(crashed.filter((op) => op.f !== "read" && !observed.has(encodeValue(valueWritten(op)))));
  },
};

/** What a register operation finds in the register: a read's result or a compare-and-set's expectation. */
function observedValue(op: ModelOperation): Value[] {
  if (op.f === "read") return [op.value];
  return op.f === "cas" ? [(op.value as readonly Value[])[0] ?? null] : [];
}

function valueWritten(op: ModelOperation): Value {
  return op.f === "cas" ? ((op.value as readonly Value[])[1] ?? null) : op.value;
}

/** A set's members keyed by their encoding, which keeps them unique and sorted on demand. */
type SetState = ReadonlyMap<string, Value>;

/** A set, initially empty: `add` puts in one element, `read` returns all of them. */
export const setModel: Model<SetState> = {
  name: "set",
  initialState: new Map(),
  validate(op) {
    if (op.f === "add") return undefined;
    if (op.f === "read") return isValueList(op.value) ? undefined : `a set read returns a collection, not ${encodeValue(op.value)}`;
    return `a set has add and read, not ${op.f}`;
  },
  isObservation: (op) => op.f === "read",
  step(state, op) {
    if (op.f === "add") return new Map(state).set(encodeValue(op.value), op.value);
    const seen = new Set((op.value as readonly Value[]).map(encodeValue));
    return seen.size === state.size && [...seen].every((member) => state.has(member)) ? state : undefined;
  },
  stateValue: (state) => [...state.keys()].sort().map((member) => state.get(member) ?? null),
};

/**
 * The models the command line offers. A key-value store is a register per
 * key: the checker partitions histories by key, so `register` covers it.
 */
export const MODELS: ReadonlyMap<string, Model<unknown>> = new Map<string, Model<unknown>>([
  [registerModel.name, registerModel as Model<unknown>],
  [setModel.name, setModel as Model<unknown>],
]);

function isPair(value: Value): boolean {
  return isValueList(value) && value.length === 2;
}
