/**
 * Keys as the in-memory index holds them: latin1 strings, one character per
 * byte, so that JavaScript's string order is exactly etcd's byte order and
 * keys can be Map keys.
 */
export type KeyString = string;

export function toKeyString(bytes: Uint8Array): KeyString {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("latin1");
}

export function fromKeyString(key: KeyString): Uint8Array {
  return Buffer.from(key, "latin1");
}

/** A half-open interval [start, end) of keys; `end` undefined means unbounded. */
export interface KeyRange {
  readonly start: KeyString;
  readonly end: KeyString | undefined;
}

export const ALL_KEYS: KeyRange = { start: "", end: undefined };

/**
 * etcd's range conventions: no range end (or an empty one) is the single key,
 * whose interval is [key, key + "\0"); a range end of one zero byte is every
 * key from `key` on.
 */
export function keyRange(key: Uint8Array, rangeEnd?: Uint8Array): KeyRange {
  const start = toKeyString(key);
  if (rangeEnd === undefined || rangeEnd.length === 0) return { start, end: `${start}\0` };
  if (rangeEnd.length === 1 && rangeEnd[0] === 0) return { start, end: undefined };
  return { start, end: toKeyString(rangeEnd) };
}

export function rangeContains(range: KeyRange, key: KeyString): boolean {
  return key >= range.start && (range.end === undefined || key < range.end);
}

/** The range end that selects every key with this prefix (etcd's `--prefix`). */
export function prefixRangeEnd(prefix: Uint8Array): Uint8Array {
  const end = Uint8Array.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i]! += 1;
      return end.slice(0, i + 1);
    }
  }
  // Only 0xff bytes: no upper bound exists, so ask for every key from prefix on.
  return Uint8Array.of(0);
}
