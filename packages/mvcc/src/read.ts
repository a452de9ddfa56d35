/** Reads against the state: ranges and txn compares, with etcd's rules for each. */
import { CompactedError, MvccError } from "./errors.js";
import type { KeyRevision, LoggedRevision } from "./key-index.js";
import { fromKeyString, keyRange } from "./keys.js";
import { EMPTY } from "./layout.js";
import type { MvccState } from "./state.js";
import type { Compare, CompareResult, KeyValue, RangeRequest, RangeResponse, SortTarget } from "./types.js";

/** The revision a read asks for (0 or less: `current`), or etcd's error for it. */
export function resolveReadRevision(requested: number | undefined, current: number, compactRevision: number): number {
  const revision = requested ?? 0;
  if (revision > current) throw new MvccError("futureRevision");
  if (revision <= 0) return current;
  if (revision < compactRevision) throw new CompactedError(compactRevision);
  return revision;
}

export function keyValue({ key, revision }: LoggedRevision, value: Uint8Array): KeyValue {
  return {
    key: fromKeyString(key),
    value,
    createRevision: revision.createRevision,
    modRevision: revision.main,
    version: revision.version,
    lease: revision.lease,
  };
}

/** A key in a range result, with its value once something needed it. */
interface Candidate extends LoggedRevision {
  value?: Uint8Array;
}

/**
 * etcd's range: `count` is every key in the range at the read revision;
 * the mod/create filters, the sort and the limit apply after counting, and
 * `more` says whether the limit cut anything. `current` is the revision the
 * response header carries (inside a txn, the txn's own).
 */
export function readRange(state: MvccState, request: RangeRequest, current: number): RangeResponse {
  const atRevision = resolveReadRevision(request.revision, current, state.compactRevision);
  const candidates: Candidate[] = [...state.index.visibleInRange(keyRange(request.key, request.rangeEnd), atRevision)];
  const count = candidates.length;
  if (request.countOnly === true) return { op: "range", revision: current, kvs: [], more: false, count };

  const valueFor = (candidate: Candidate): Uint8Array => (candidate.value ??= state.value(candidate.revision));
  const sorted = sortCandidates(candidates.filter(revisionFilter(request)), request, valueFor);
  const limit = request.limit !== undefined && request.limit > 0 ? request.limit : sorted.length;
  const kvs = sorted.slice(0, limit).map((candidate) => keyValue(candidate, request.keysOnly === true ? EMPTY : valueFor(candidate)));
  return { op: "range", revision: current, kvs, more: sorted.length > limit, count };
}

function revisionFilter(request: RangeRequest): (candidate: Candidate) => boolean {
  const { minModRevision = 0, maxModRevision = 0, minCreateRevision = 0, maxCreateRevision = 0 } = request;
  return ({ revision }) =>
    (minModRevision <= 0 || revision.main >= minModRevision) &&
    (maxModRevision <= 0 || revision.main <= maxModRevision) &&
    (minCreateRevision <= 0 || revision.createRevision >= minCreateRevision) &&
    (maxCreateRevision <= 0 || revision.createRevision <= maxCreateRevision);
}

/**
 * Candidates arrive in ascending key order, which is the answer for KEY with
 * NONE or ASCEND. Any other target sorts ascending unless told otherwise, as
 * in etcd; the sort is stable, so ties stay in key order.
 */
function sortCandidates(candidates: Candidate[], request: RangeRequest, valueFor: (candidate: Candidate) => Uint8Array): Candidate[] {
  const target = request.sortTarget ?? "KEY";
  const order = request.sortOrder ?? "NONE";
  if (target === "KEY" && order !== "DESCEND") return candidates;
  if (target === "KEY") return candidates.reverse();
  const ascending = comparatorFor(target, valueFor);
  const comparator = order === "DESCEND" ? (a: Candidate, b: Candidate) => ascending(b, a) : ascending;
  return candidates.sort(comparator);
}

function comparatorFor(target: Exclude<SortTarget, "KEY">, valueFor: (candidate: Candidate) => Uint8Array): (a: Candidate, b: Candidate) => number {
  switch (target) {
    case "VERSION":
      return (a, b) => a.revision.version - b.revision.version;
    case "CREATE":
      return (a, b) => a.revision.createRevision - b.revision.createRevision;
    case "MOD":
      return (a, b) => a.revision.main - b.revision.main;
    case "VALUE":
      return (a, b) => Buffer.compare(valueFor(a), valueFor(b));
  }
}

/**
 * Whether a txn compare holds at the current revision: for every key in its
 * range, or for a missing key's zero values when the range is empty, except
 * that a VALUE compare never holds on a missing key (etcd cannot tell a
 * missing value from an empty one).
 */
export function compareHolds(state: MvccState, compare: Compare): boolean {
  const visible = [...state.index.visibleInRange(keyRange(compare.key, compare.rangeEnd), state.revision)];
  if (visible.length === 0) {
    return compare.target !== "VALUE" && outcomeMatches(compare.result, storedMinusGiven(compare, undefined, EMPTY));
  }
  return visible.every(({ revision }) => {
    const value = compare.target === "VALUE" ? state.value(revision) : EMPTY;
    return outcomeMatches(compare.result, storedMinusGiven(compare, revision, value));
  });
}

/** Negative, zero or positive as the stored field is below, equal to or above the compared one. */
function storedMinusGiven(compare: Compare, stored: KeyRevision | undefined, storedValue: Uint8Array): number {
  switch (compare.target) {
    case "VERSION":
      return (stored?.version ?? 0) - (compare.version ?? 0);
    case "CREATE":
      return (stored?.createRevision ?? 0) - (compare.createRevision ?? 0);
    case "MOD":
      return (stored?.main ?? 0) - (compare.modRevision ?? 0);
    case "LEASE":
      return (stored?.lease ?? 0) - (compare.lease ?? 0);
    case "VALUE":
      return Buffer.compare(storedValue, compare.value ?? EMPTY);
  }
}

function outcomeMatches(result: CompareResult, difference: number): boolean {
  switch (result) {
    case "EQUAL":
      return difference === 0;
    case "NOT_EQUAL":
      return difference !== 0;
    case "GREATER":
      return difference > 0;
    case "LESS":
      return difference < 0;
  }
}
