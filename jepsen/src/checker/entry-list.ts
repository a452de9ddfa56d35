/**
 * Calls and returns of operations in real-time order, as a doubly linked
 * list over typed arrays, so that lifting an operation's entries out and
 * putting them back are O(1) and undo each other exactly when done in
 * reverse order (Knuth's dancing links).
 */
export interface Entry {
  /** Position in the history's real-time order. */
  readonly at: number;
  readonly operation: number;
  readonly isReturn: boolean;
}

export class EntryList {
  private readonly head: number;
  /** The end of the list; its position is infinite, past every entry. */
  readonly end: number;
  private readonly following: Int32Array;
  private readonly preceding: Int32Array;
  private readonly entryAt: Float64Array;
  private readonly entryOperation: Int32Array;
  private readonly entryIsReturn: Uint8Array;
  private readonly callEntry: Int32Array;
  /** -1 for an operation without a return. */
  private readonly returnEntry: Int32Array;

  /** `operationCount` bounds the operation numbers the entries use. */
  constructor(entries: readonly Entry[], operationCount: number) {
    const sorted = [...entries].sort((a, b) => a.at - b.at);
    const count = sorted.length;
    this.head = count;
    this.end = count + 1;
    this.following = new Int32Array(count + 2);
    this.preceding = new Int32Array(count + 2);
    this.entryAt = new Float64Array(count + 2).fill(Infinity);
    this.entryOperation = new Int32Array(count).fill(-1);
    this.entryIsReturn = new Uint8Array(count);
    this.callEntry = new Int32Array(operationCount).fill(-1);
    this.returnEntry = new Int32Array(operationCount).fill(-1);
    sorted.forEach((entry, index) => {
      this.entryAt[index] = entry.at;
      this.entryOperation[index] = entry.operation;
      this.entryIsReturn[index] = entry.isReturn ? 1 : 0;
      (entry.isReturn ? this.returnEntry : this.callEntry)[entry.operation] = index;
    });
    const order = [this.head, ...sorted.keys(), this.end];
    for (let i = 1; i < order.length; i++) this.link(order[i - 1]!, order[i]!);
  }

  first(): number {
    return this.following[this.head]!;
  }

  next(entry: number): number {
    return this.following[entry]!;
  }

  at(entry: number): number {
    return this.entryAt[entry]!;
  }

  isReturn(entry: number): boolean {
    return this.entryIsReturn[entry] === 1;
  }

  operationAt(entry: number): number {
    return this.entryOperation[entry]!;
  }

  callOf(op: number): number {
    return this.callEntry[op]!;
  }

  /** The first return entry still in the list, or `end`. */
  firstReturn(): number {
    let entry = this.first();
    while (entry !== this.end && !this.isReturn(entry)) entry = this.next(entry);
    return entry;
  }

  lift(op: number): void {
    this.unlink(this.callEntry[op]!);
    const returned = this.returnEntry[op]!;
    if (returned >= 0) this.unlink(returned);
  }

  unlift(op: number): void {
    const returned = this.returnEntry[op]!;
    if (returned >= 0) this.relink(returned);
    this.relink(this.callEntry[op]!);
  }

  private link(before: number, after: number): void {
    this.following[before] = after;
    this.preceding[after] = before;
  }

  private unlink(entry: number): void {
    this.link(this.preceding[entry]!, this.following[entry]!);
  }

  /** Undoes `unlink(entry)`, given that everything unlinked since has been relinked. */
  private relink(entry: number): void {
    this.following[this.preceding[entry]!] = entry;
    this.preceding[this.following[entry]!] = entry;
  }
}
