/**
 * The set of operations linearized so far, as a bitset that keeps a
 * Zobrist hash (the XOR of a random number per member) up to date as
 * members come and go, so that hashing it costs nothing.
 */
export class OperationSet {
  private readonly words: Uint32Array;
  private readonly memberHashes: Int32Array;
  private currentHash = 0;

  constructor(capacity: number) {
    this.words = new Uint32Array(Math.ceil(capacity / 32));
    this.memberHashes = randomHashes(capacity);
  }

  get hash(): number {
    return this.currentHash;
  }

  add(member: number): void {
    this.words[member >>> 5]! |= 1 << (member & 31);
    this.currentHash ^= this.memberHashes[member]!;
  }

  delete(member: number): void {
    this.words[member >>> 5]! &= ~(1 << (member & 31));
    this.currentHash ^= this.memberHashes[member]!;
  }

  /**
   * A compact exact copy: the number of leading full words, then the index
   * and bits of every later word that is not empty. Linearized sets are a
   * long full prefix and a few stragglers, so this stays small where a copy
   * of the bitset would grow with the history.
   */
  snapshot(): Uint32Array {
    const words = this.words;
    let fullWords = 0;
    while (fullWords < words.length && words[fullWords] === 0xffffffff) fullWords++;
    let stragglers = 0;
    for (let index = fullWords; index < words.length; index++) if (words[index] !== 0) stragglers++;
    const compact = new Uint32Array(1 + 2 * stragglers);
    compact[0] = fullWords;
    let next = 1;
    for (let index = fullWords; index < words.length; index++) {
      const word = words[index]!;
      if (word === 0) continue;
      compact[next++] = index;
      compact[next++] = word;
    }
    return compact;
  }
}

export function sameSnapshot(a: Uint32Array, b: Uint32Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Any well-spread numbers will do; a fixed xorshift sequence keeps runs reproducible. */
function randomHashes(count: number): Int32Array {
  const hashes = new Int32Array(count);
  let seed = 0x2545f491;
  for (let i = 0; i < count; i++) {
    // xorshift32
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    hashes[i] = seed;
  }
  return hashes;
}
