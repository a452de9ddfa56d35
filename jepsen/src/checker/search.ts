/**
 * The Wing & Gong linearizability search with Lowe's improvements, as
 * Porcupine and Knossos's `wgl` checker describe it:
 *
 * Calls and returns sit in a list in real-time order. Walking it from the
 * front, the search may linearize any operation whose call it meets before
 * the first return: that operation is applied to the model, its entries are
 * lifted out of the list, and the walk starts over. Meeting a return first
 * means that operation had to be linearized by now and could not be: the
 * search undoes its last choice and tries the next call after it. A memo of
 * the configurations already explored prunes the search to new ones.
 *
 * Before each return the walk makes up to three passes over the calls:
 * reads first, since a read that fits the current state can be linearized
 * at once with no alternative to try (see `stepObservationPass`), then the
 * other `ok` operations, then the crashed ones.
 *
 * An operation that crashed (`info`) has a call and no return: it may be
 * linearized any time after its call, or never. The history is
 * linearizable once every `ok` operation is. Crashed operations are what
 * make histories hard, so the search keeps them in a list of their own:
 * - trying them last explores leaving crashed operations out first, and the memo's dominance rule (see
 *   `Memo`) then prunes most configurations that put them in;
 * - of crashed operations that are alike (same function and value), it
 *   tries only the earliest still pending: any other would lead to the same
 *   configurations with the two swapped;
 * - right after linearizing a crashed operation Y it skips a crashed X that
 *   reaches the same state with or without Y before it (a write after a
 *   write): X alone dominates Y then X, and the pass that chose Y tries X
 *   alone too. Without this, n crashed writes cost 2^n.
 *
 * A model may also name crashed operations that no linearization needs, and
 * the search leaves them out.
 *
 * The search runs in slices of steps, so that a caller can share time
 * between searches and give up at a deadline.
 */
import { EntryList, type Entry } from "./entry-list.js";
import { Memo } from "./memo.js";
import type { Model } from "./model.js";
import { OperationSet } from "./operation-set.js";
import type { Operation } from "./operations.js";
import { encodeValue, type Value } from "./value.js";

export type SearchStatus = "searching" | "linearizable" | "not-linearizable";

/** The furthest the search got: the operation it could not linearize, and how it got there. */
export interface DeadEnd {
  /** The operation whose return the search could not get past. */
  readonly operation: Operation;
  /** One order of the operations linearized before it, each with the state it left. */
  readonly linearized: readonly { readonly operation: Operation; readonly state: Value }[];
  /** Every state (up to a few) the model was found in when the operation was due. */
  readonly possibleStates: readonly Value[];
}

/** How many model states a dead end keeps for its report. */
const STATES_REPORTED = 8;

/** One linearization choice; the chain of parents is the order chosen so far. */
interface Choice {
  readonly operation: number;
  /** The model state after this choice. */
  readonly state: number;
  /** A final choice has no alternatives: undoing it undoes the one before too. */
  readonly final: boolean;
  readonly parent: Choice | undefined;
}

interface FurthestDeadEnd {
  readonly operation: number;
  readonly choices: Choice | undefined;
  readonly states: Set<number>;
}

/** What the walk tries before the first return: the `ok` reads, the other `ok` calls, the crashed calls. */
enum Pass {
  Observations,
  Updates,
  Crashed,
}

export class LinearizabilitySearch<State> {
  /** `ok` operations first, numbered from 0, then the crashed ones. */
  private readonly operations: readonly Operation[];
  private readonly okCount: number;
  /** 1 for each operation the model says only observes the state. */
  private readonly observes: Uint8Array;
  private readonly okEntries: EntryList;
  private readonly crashedCalls: EntryList;
  /** For each crashed operation, the previous one alike, or -1. */
  private readonly alikeBefore: Int32Array;
  private readonly linearizedOk: OperationSet;
  /** The crashed operations linearized, in the order chosen. */
  private readonly linearizedCrashed: number[] = [];
  /** 1 for each crashed operation linearized. */
  private readonly crashedIsLinearized: Uint8Array;
  private readonly memo = new Memo();
  private readonly states: StateTable<State>;
  private readonly initialState: number;
  private choices: Choice | undefined = undefined;
  private state: number;
  private pass = Pass.Observations;
  /** An entry of `crashedCalls` in the crashed pass, of `okEntries` otherwise. */
  private cursor: number;
  /** In the crashed pass, the first return in `okEntries`: the operation now due. */
  private due = -1;
  private unlinearizedOk: number;
  private furthest: FurthestDeadEnd | undefined = undefined;
  private searchStatus: SearchStatus = "searching";
  private stepsTaken = 0;

  constructor(
    private readonly model: Model<State>,
    operations: readonly Operation[],
  ) {
    const ok = operations.filter((op) => op.outcome === "ok");
    const needless = model.needlessCrashes?.(
      operations.filter((op) => op.outcome === "info"),
      operations,
    );
    const crashed = operations.filter((op) => op.outcome === "info" && !needless?.has(op));
    this.operations = [...ok, ...crashed];
    this.okCount = ok.length;
    this.unlinearizedOk = ok.length;
    this.observes = Uint8Array.from(this.operations, (op) => (model.isObservation(op) ? 1 : 0));
    const calls = this.operations.map((op, index): Entry => ({ at: op.callAt, operation: index, isReturn: false }));
    const returns = ok.map((op, index): Entry => ({ at: op.returnAt, operation: index, isReturn: true }));
    this.okEntries = new EntryList([...calls.slice(0, this.okCount), ...returns], this.operations.length);
    this.crashedCalls = new EntryList(calls.slice(this.okCount), this.operations.length);
    this.alikeBefore = alikeBefore(this.operations, this.okCount);
    this.crashedIsLinearized = new Uint8Array(this.operations.length);
    this.linearizedOk = new OperationSet(this.okCount);
    this.states = new StateTable(model);
    this.initialState = this.states.intern(model.initialState);
    this.state = this.initialState;
    this.cursor = this.okEntries.first();
  }

  get status(): SearchStatus {
    return this.searchStatus;
  }

  get steps(): number {
    return this.stepsTaken;
  }

  /**
   * Searches for at most `budget` more steps. While an `ok` operation is
   * unlinearized its return is in the list, so every pass meets a return
   * before it could run off the end.
   */
  run(budget: number): SearchStatus {
    for (let step = 0; step < budget && this.searchStatus === "searching"; step++) {
      this.stepsTaken++;
      if (this.unlinearizedOk === 0) this.searchStatus = "linearizable";
      else if (this.pass === Pass.Observations) this.stepObservationPass();
      else if (this.pass === Pass.Updates) this.stepUpdatePass();
      else this.stepCrashedPass();
    }
    return this.searchStatus;
  }

  /** The furthest dead end, once the search has found the history not linearizable. */
  deadEnd(): DeadEnd | undefined {
    if (this.searchStatus !== "not-linearizable" || this.furthest === undefined) return undefined;
    const linearized = [];
    for (let choice = this.furthest.choices; choice !== undefined; choice = choice.parent) {
      linearized.push({ operation: this.operation(choice.operation), state: this.stateValue(choice.state) });
    }
    return {
      operation: this.operation(this.furthest.operation),
      linearized: linearized.reverse(),
      possibleStates: [...this.furthest.states].map((state) => this.stateValue(state)),
    };
  }

  /**
   * A read that can be linearized now may as well be: any linearization
   * that places it later still works with it moved here, since it changes
   * nothing and everything that must precede it already does. So it is a
   * final choice, with no alternatives to try; and if the configuration it
   * leads to was explored before, this one is a dead end too.
   */
  private stepObservationPass(): void {
    const entry = this.cursor;
    if (this.okEntries.isReturn(entry)) {
      this.pass = Pass.Updates;
      this.cursor = this.okEntries.first();
      return;
    }
    const op = this.okEntries.operationAt(entry);
    const nextState = this.observes[op] === 1 ? this.stateAfter(this.state, op) : -1;
    if (nextState < 0) this.cursor = this.okEntries.next(entry);
    else if (this.choose(op, nextState, true)) this.restartWalk();
    else this.abandon();
  }

  private stepUpdatePass(): void {
    const entry = this.cursor;
    if (this.okEntries.isReturn(entry)) this.startCrashedPass(entry);
    else if (this.observes[this.okEntries.operationAt(entry)] === 0 && this.tryLinearize(this.okEntries.operationAt(entry))) {
      this.restartWalk();
    } else this.cursor = this.okEntries.next(entry);
  }

  private startCrashedPass(dueReturn: number): void {
    this.pass = Pass.Crashed;
    this.due = dueReturn;
    this.cursor = this.crashedCalls.first();
  }

  /** Crashed calls after the due return come too late to be linearized before it. */
  private stepCrashedPass(): void {
    const entry = this.cursor;
    if (this.crashedCalls.at(entry) > this.okEntries.at(this.due)) this.backtrack();
    else if (this.isWorthTrying(this.crashedCalls.operationAt(entry)) && this.tryLinearize(this.crashedCalls.operationAt(entry))) {
      this.restartWalk();
    } else this.cursor = this.crashedCalls.next(entry);
  }

  /**
   * A crashed operation is not worth trying when an earlier one alike is
   * still pending, or when it would make the crashed choice just made
   * pointless.
   */
  private isWorthTrying(crashed: number): boolean {
    const alike = this.alikeBefore[crashed]!;
    if (alike >= 0 && this.crashedIsLinearized[alike] === 0) return false;
    const last = this.choices;
    if (last === undefined || !this.isCrashed(last.operation)) return true;
    return this.stateAfter(last.parent?.state ?? this.initialState, crashed) !== this.stateAfter(last.state, crashed);
  }

  private restartWalk(): void {
    this.pass = Pass.Observations;
    this.cursor = this.okEntries.first();
  }

  /** The state `op` leads to from `state`, or -1 if it cannot happen there. */
  private stateAfter(state: number, op: number): number {
    const next = this.model.step(this.states.get(state), this.operation(op));
    return next === undefined ? -1 : this.states.intern(next);
  }

  private tryLinearize(op: number): boolean {
    const nextState = this.stateAfter(this.state, op);
    return nextState >= 0 && this.choose(op, nextState, false);
  }

  /** Linearizes `op`, leading to `nextState`, unless that configuration was explored already. */
  private choose(op: number, nextState: number, final: boolean): boolean {
    this.include(op);
    if (!this.memo.remember(this.linearizedOk, this.linearizedCrashed, nextState)) {
      this.exclude(op);
      return false;
    }
    this.choices = { operation: op, state: nextState, final, parent: this.choices };
    this.state = nextState;
    this.listOf(op).lift(op);
    return true;
  }

  /** The due operation could not be linearized. */
  private backtrack(): void {
    this.recordDeadEnd(this.okEntries.operationAt(this.due));
    this.abandon();
  }

  /** Undoes choices up to the last one that has alternatives left, and goes on with those. */
  private abandon(): void {
    for (;;) {
      const last = this.choices;
      if (last === undefined) {
        this.searchStatus = "not-linearizable";
        return;
      }
      this.undo(last);
      if (!last.final) return this.resumeAfter(last.operation);
    }
  }

  private undo(choice: Choice): void {
    this.choices = choice.parent;
    this.state = choice.parent?.state ?? this.initialState;
    this.exclude(choice.operation);
    this.listOf(choice.operation).unlift(choice.operation);
  }

  /** Goes on with the pass that chose `op`, from the call after it. */
  private resumeAfter(op: number): void {
    const list = this.listOf(op);
    this.cursor = list.next(list.callOf(op));
    if (this.isCrashed(op)) {
      this.pass = Pass.Crashed;
      this.due = this.okEntries.firstReturn();
    } else this.pass = Pass.Updates;
  }

  private include(op: number): void {
    if (this.isCrashed(op)) {
      this.linearizedCrashed.push(op);
      this.crashedIsLinearized[op] = 1;
    } else {
      this.linearizedOk.add(op);
      this.unlinearizedOk--;
    }
  }

  /** Undoes `include(op)`; choices are undone last first, so a crashed one is the last pushed. */
  private exclude(op: number): void {
    if (this.isCrashed(op)) {
      this.linearizedCrashed.pop();
      this.crashedIsLinearized[op] = 0;
    } else {
      this.linearizedOk.delete(op);
      this.unlinearizedOk++;
    }
  }

  /**
   * Keeps the dead end whose due operation returns latest: the first point
   * of the history that no linearization gets past, as Knossos reports it.
   */
  private recordDeadEnd(op: number): void {
    const furthest = this.furthest;
    if (furthest === undefined || this.operation(op).returnAt > this.operation(furthest.operation).returnAt) {
      this.furthest = { operation: op, choices: this.choices, states: new Set([this.state]) };
    } else if (furthest.operation === op && furthest.states.size < STATES_REPORTED) {
      furthest.states.add(this.state);
    }
  }

  private isCrashed(op: number): boolean {
    return op >= this.okCount;
  }

  private listOf(op: number): EntryList {
    return this.isCrashed(op) ? this.crashedCalls : this.okEntries;
  }

  private operation(op: number): Operation {
    return this.operations[op]!;
  }

  private stateValue(state: number): Value {
    return this.model.stateValue(this.states.get(state));
  }
}

/** For each crashed operation (numbered from `okCount`, in call order), the previous one alike, or -1. */
function alikeBefore(operations: readonly Operation[], okCount: number): Int32Array {
  const previous = new Int32Array(operations.length).fill(-1);
  const latest = new Map<string, number>();
  for (let op = okCount; op < operations.length; op++) {
    const { f, value } = operations[op]!;
    const signature = `${f} ${encodeValue(value)}`;
    previous[op] = latest.get(signature) ?? -1;
    latest.set(signature, op);
  }
  return previous;
}

/** Numbers the model states met, so that equal states share a number. */
class StateTable<State> {
  private readonly numbers = new Map<string, number>();
  private readonly states: State[] = [];

  constructor(private readonly model: Model<State>) {}

  intern(state: State): number {
    const encoding = encodeValue(this.model.stateValue(state));
    let number = this.numbers.get(encoding);
    if (number === undefined) {
      number = this.states.length;
      this.numbers.set(encoding, number);
      this.states.push(state);
    }
    return number;
  }

  get(number: number): State {
    return this.states[number]!;
  }
}
