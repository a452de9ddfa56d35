/**
 * Checks that need no state, in the order etcd's gRPC layer makes them: op
 * counts and empty keys first, then duplicate writes in a txn. The server
 * runs them before proposing (MvccStore.validate); apply runs them again, so
 * a request is judged the same whichever way it came.
 */
import { MvccError } from "./errors.js";
import { keyRange, rangeContains, toKeyString, type KeyRange, type KeyString } from "./keys.js";
import type { PutRequest, Request, TxnOp, TxnRequest } from "./types.js";

export function validateRequest(request: Request, maxTxnOps: number): void {
  switch (request.op) {
    case "range":
    case "deleteRange":
      requireKey(request.key);
      return;
    case "put":
      validatePut(request);
      return;
    case "txn":
      validateTxnShape(request, maxTxnOps);
      writeFootprint(request.success ?? []);
      writeFootprint(request.failure ?? []);
      return;
    default:
      return;
  }
}

function requireKey(key: Uint8Array): void {
  if (key.length === 0) throw new MvccError("emptyKey");
}

function validatePut(request: PutRequest): void {
  requireKey(request.key);
  if (request.ignoreValue === true && (request.value?.length ?? 0) > 0) throw new MvccError("valueProvided");
  if (request.ignoreLease === true && (request.lease ?? 0) !== 0) throw new MvccError("leaseProvided");
}

/**
 * No list (compares, success, failure) may be longer than the budget, and a
 * nested txn's budget is what its parent's longest list left over, as in etcd.
 */
function validateTxnShape(txn: TxnRequest, budget: number): void {
  const compare = txn.compare ?? [];
  const success = txn.success ?? [];
  const failure = txn.failure ?? [];
  const longest = Math.max(compare.length, success.length, failure.length);
  if (longest > budget) throw new MvccError("tooManyOps");
  for (const { key } of compare) requireKey(key);
  for (const op of [...success, ...failure]) {
    if (op.op === "txn") validateTxnShape(op, budget - longest);
    else validateRequest(op, budget - longest);
  }
}

/** The keys a list of txn ops may put and the ranges it may delete. */
interface WriteFootprint {
  readonly puts: Set<KeyString>;
  readonly deletes: KeyRange[];
}

/**
 * Rejects a list of ops that could write one key twice in one revision: two
 * puts of a key, or a put inside a deleted range, wherever they sit in nested
 * txns, unless they sit in the two exclusive branches of one txn. (etcd 3.4
 * misses a put in a nested txn followed by a delete in a later sibling txn;
 * this check does not depend on order.)
 */
function writeFootprint(ops: readonly TxnOp[]): WriteFootprint {
  const total: WriteFootprint = { puts: new Set(), deletes: [] };
  for (const op of ops) {
    const own = opFootprint(op);
    if (overlaps(total, own) || overlaps(own, total)) throw new MvccError("duplicateKey");
    for (const key of own.puts) total.puts.add(key);
    total.deletes.push(...own.deletes);
  }
  return total;
}

function opFootprint(op: TxnOp): WriteFootprint {
  switch (op.op) {
    case "put":
      return { puts: new Set([toKeyString(op.key)]), deletes: [] };
    case "deleteRange":
      return { puts: new Set(), deletes: [keyRange(op.key, op.rangeEnd)] };
    case "range":
      return { puts: new Set(), deletes: [] };
    case "txn": {
      // Only one branch runs, so the branches may write the same keys.
      const success = writeFootprint(op.success ?? []);
      const failure = writeFootprint(op.failure ?? []);
      return { puts: new Set([...success.puts, ...failure.puts]), deletes: [...success.deletes, ...failure.deletes] };
    }
  }
}

/** Whether a put of `later` hits a put or a deleted range of `earlier`. */
function overlaps(earlier: WriteFootprint, later: WriteFootprint): boolean {
  for (const key of later.puts) {
    if (earlier.puts.has(key)) return true;
    if (earlier.deletes.some((range) => rangeContains(range, key))) return true;
  }
  return false;
}
