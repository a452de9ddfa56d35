import type { KeyString } from "./keys.js";

/** Past this size a chunk splits in two; small enough for cheap splices, big enough for shallow searches. */
const MAX_CHUNK = 512;

/**
 * An ordered set of keys for range scans. A sorted array of sorted chunks:
 * inserting a key moves at most one chunk's elements, where one flat array
 * would move half the key space.
 */
export class SortedKeys {
  private chunks: KeyString[][] = [];
  private count = 0;

  static fromSorted(keys: readonly KeyString[]): SortedKeys {
    const set = new SortedKeys();
    for (let i = 0; i < keys.length; i += MAX_CHUNK / 2) {
      set.chunks.push(keys.slice(i, i + MAX_CHUNK / 2));
    }
    set.count = keys.length;
    return set;
  }

  get size(): number {
    return this.count;
  }

  add(key: KeyString): void {
    if (this.chunks.length === 0) {
      this.chunks.push([key]);
      this.count = 1;
      return;
    }
    const chunkIndex = Math.min(this.chunkFor(key), this.chunks.length - 1);
    const chunk = this.chunks[chunkIndex]!;
    const at = lowerBound(chunk, key);
    if (chunk[at] === key) return;
    chunk.splice(at, 0, key);
    this.count++;
    if (chunk.length > MAX_CHUNK) {
      this.chunks.splice(chunkIndex + 1, 0, chunk.splice(MAX_CHUNK / 2));
    }
  }

  delete(key: KeyString): void {
    const chunkIndex = this.chunkFor(key);
    const chunk = this.chunks[chunkIndex];
    if (chunk === undefined) return;
    const at = lowerBound(chunk, key);
    if (chunk[at] !== key) return;
    chunk.splice(at, 1);
    this.count--;
    if (chunk.length === 0) this.chunks.splice(chunkIndex, 1);
  }

  /** The held key equal to `key`, if the set has it. */
  find(key: KeyString): KeyString | undefined {
    const chunk = this.chunks[this.chunkFor(key)];
    if (chunk === undefined) return undefined;
    const held = chunk[lowerBound(chunk, key)];
    return held === key ? held : undefined;
  }

  /** Keys in [start, end) in ascending order; `end` undefined means unbounded. */
  *between(start: KeyString, end: KeyString | undefined): Generator<KeyString> {
    const first = this.chunkFor(start);
    for (let c = first; c < this.chunks.length; c++) {
      const chunk = this.chunks[c]!;
      for (let i = c === first ? lowerBound(chunk, start) : 0; i < chunk.length; i++) {
        const key = chunk[i]!;
        if (end !== undefined && key >= end) return;
        yield key;
      }
    }
  }

  /** The first chunk whose last key is >= key (chunks.length when there is none). */
  private chunkFor(key: KeyString): number {
    let low = 0;
    let high = this.chunks.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      const chunk = this.chunks[mid]!;
      if (chunk[chunk.length - 1]! < key) low = mid + 1;
      else high = mid;
    }
    return low;
  }
}

/** The first position in a sorted array whose element is >= key. */
function lowerBound(sorted: readonly KeyString[], key: KeyString): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (sorted[mid]! < key) low = mid + 1;
    else high = mid;
  }
  return low;
}
