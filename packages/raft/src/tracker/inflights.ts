import { invariant } from "../assert.js";

/**
 * A ring of the last indexes of appends sent but not yet acknowledged. When it
 * is full the leader stops sending to that follower until acknowledgements arrive.
 */
export class Inflights {
  private readonly lastIndexes: number[] = [];

  constructor(readonly capacity: number) {
    invariant(capacity > 0, "inflight window must hold at least one append");
  }

  full(): boolean {
    return this.lastIndexes.length >= this.capacity;
  }

  add(lastIndex: number): void {
    invariant(!this.full(), "added an append to a full inflight window");
    const newest = this.lastIndexes[this.lastIndexes.length - 1];
    invariant(newest === undefined || lastIndex > newest, "inflight appends must be sent in index order");
    this.lastIndexes.push(lastIndex);
  }

  /** Frees every append whose last index is at or below the acknowledged one. */
  freeUpTo(acknowledged: number): void {
    let freed = 0;
    while (freed < this.lastIndexes.length && (this.lastIndexes[freed] ?? Infinity) <= acknowledged) freed++;
    this.lastIndexes.splice(0, freed);
  }

  /** Frees the oldest append, whose acknowledgement may have been lost. */
  freeFirst(): void {
    this.lastIndexes.shift();
  }

  reset(): void {
    this.lastIndexes.length = 0;
  }
}
