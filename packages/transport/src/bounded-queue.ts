/**
 * A first-in first-out queue of fixed capacity that makes room for a new item
 * by dropping the oldest one. A ring buffer, so that dropping is O(1).
 */
export class BoundedQueue<T> {
  private readonly slots: (T | undefined)[];
  private head = 0;
  private count = 0;

  constructor(readonly capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) throw new RangeError(`queue capacity must be a positive integer, got ${capacity}`);
    this.slots = new Array<T | undefined>(capacity);
  }

  get length(): number {
    return this.count;
  }

  /** Appends `item`; returns true when the oldest item was dropped to fit it. */
  push(item: T): boolean {
    const full = this.count === this.capacity;
    if (full) this.head = (this.head + 1) % this.capacity;
    else this.count++;
    this.slots[(this.head + this.count - 1) % this.capacity] = item;
    return full;
  }

  /** Removes and returns every item, oldest first. */
  drain(): T[] {
    const items = new Array<T>(this.count);
    for (let i = 0; i < this.count; i++) {
      const slot = (this.head + i) % this.capacity;
      items[i] = this.slots[slot] as T;
      this.slots[slot] = undefined;
    }
    this.head = 0;
    this.count = 0;
    return items;
  }
}
