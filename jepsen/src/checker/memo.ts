/**
 * The configurations a search has explored, each a set of linearized `ok`
 * operations, a set of linearized crashed ones and a model state.
 *
 * A configuration dominates another with the same `ok` set and state and
 * more crashed operations: a crashed operation constrains nothing after it,
 * so the one with fewer could do everything the other can, and more. Once a
 * configuration has been explored, every configuration it dominates is
 * pruned, and so for each (`ok` set, state) the memo keeps only crashed sets
 * that no other kept one is a subset of.
 */
import { sameSnapshot, type OperationSet } from "./operation-set.js";

interface Explored {
  readonly state: number;
  readonly ok: Uint32Array;
  /** Sorted. */
  readonly crashed: Int32Array;
}

export class Memo {
  private readonly buckets = new Map<number, Explored[]>();

  /** Records the configuration, or returns false if it, or one that dominates it, was explored. */
  remember(ok: OperationSet, crashed: readonly number[], state: number): boolean {
    const hash = (ok.hash ^ Math.imul(state + 1, 0x9e3779b1)) | 0;
    const configuration = { state, ok: ok.snapshot(), crashed: Int32Array.from(crashed).sort() };
    const bucket = this.buckets.get(hash);
    if (bucket === undefined) {
      this.buckets.set(hash, [configuration]);
      return true;
    }
    let dominatesAny = false;
    for (const explored of bucket) {
      if (explored.state !== state || !sameSnapshot(explored.ok, configuration.ok)) continue;
      if (isSubset(explored.crashed, configuration.crashed)) return false;
      dominatesAny ||= isSubset(configuration.crashed, explored.crashed);
    }
    const kept = dominatesAny ? bucket.filter((explored) => !dominates(configuration, explored)) : bucket;
    kept.push(configuration);
    if (kept !== bucket) this.buckets.set(hash, kept);
    return true;
  }
}

function dominates(a: Explored, b: Explored): boolean {
  return a.state === b.state && sameSnapshot(a.ok, b.ok) && isSubset(a.crashed, b.crashed);
}

/** Whether every member of sorted `small` is in sorted `large`. */
function isSubset(small: Int32Array, large: Int32Array): boolean {
  if (small.length > large.length) return false;
  let j = 0;
  for (const member of small) {
    while (j < large.length && large[j]! < member) j++;
    if (large[j] !== member) return false;
    j++;
  }
  return true;
}
