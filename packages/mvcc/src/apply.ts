/**
 * Applies one request to the state. Every request is checked whole before it
 * changes anything, so a rejected request (a thrown MvccError) leaves the
 * state as it was. Nothing here reads a clock or a random source: replicas
 * that apply the same entries end in the same state.
 */
import { CompactedError, MvccError } from "./errors.js";
import { toKeyString } from "./keys.js";
import { generatedLeaseId, MAX_LEASE_TTL, renewedSince } from "./leases.js";
import { compareHolds, resolveReadRevision } from "./read.js";
import type { MvccState } from "./state.js";
import type {
  CompactOp,
  DeleteRangeOp,
  LeaseCheckpointOp,
  LeaseGrantOp,
  LeaseRenewOp,
  LeaseRevokeOp,
  PutOp,
  PutRequest,
  RangeOp,
  Request,
  Response,
  TxnOp,
  TxnOpResponse,
  TxnRequest,
  WatchEvent,
} from "./types.js";
import { validateRequest } from "./validate.js";
import { WriteTxn } from "./write-txn.js";

export interface ApplyLimits {
  readonly maxTxnOps: number;
  readonly minLeaseTtl: number;
}

export interface ApplyOptions extends ApplyLimits {
  /** Whether events carry the previous key-value; responses carry it when the request asks, regardless. */
  readonly prevKvInEvents: boolean;
}

export interface Applied {
  readonly response: Response;
  readonly events: WatchEvent[];
}

export function applyRequest(state: MvccState, raftIndex: number, request: Request, options: ApplyOptions): Applied {
  validateRequest(request, options.maxTxnOps);
  switch (request.op) {
    case "range":
    case "put":
    case "deleteRange":
    case "txn":
      return applyTxnOp(state, request, options.prevKvInEvents);
    case "compact":
      return { response: compact(state, request), events: [] };
    case "leaseGrant":
      return { response: grantLease(state, raftIndex, request, options.minLeaseTtl), events: [] };
    case "leaseRevoke":
      return revokeLease(state, request, options.prevKvInEvents);
    case "leaseRenew":
      return { response: renewLease(state, raftIndex, request), events: [] };
    case "leaseCheckpoint":
      return { response: checkpointLeases(state, request), events: [] };
  }
}

/**
 * The branch a txn takes, decided up front like etcd does: the compares of
 * the txn and of every nested txn on the path are evaluated against the state
 * before the txn writes anything.
 */
interface TxnPlan {
  readonly succeeded: boolean;
  readonly steps: readonly PlannedStep[];
}

type PlannedStep = RangeOp | PutOp | DeleteRangeOp | { readonly op: "nestedTxn"; readonly plan: TxnPlan };

function planTxn(state: MvccState, txn: TxnRequest): TxnPlan {
  const succeeded = (txn.compare ?? []).every((compare) => compareHolds(state, compare));
  const ops = (succeeded ? txn.success : txn.failure) ?? [];
  const steps = ops.map((op): PlannedStep => (op.op === "txn" ? { op: "nestedTxn", plan: planTxn(state, op) } : op));
  return { succeeded, steps };
}

/** A lone range, put or delete is a txn of one step that always succeeds. */
function planOf(state: MvccState, request: TxnOp): TxnPlan {
  return request.op === "txn" ? planTxn(state, request) : { succeeded: true, steps: [request] };
}

/** The checks of the path a txn takes that depend on the state, made before any step runs. */
function checkPlan(state: MvccState, plan: TxnPlan): void {
  for (const step of plan.steps) {
    if (step.op === "put") checkPut(state, step);
    else if (step.op === "range") resolveReadRevision(step.revision, state.revision, state.compactRevision);
    else if (step.op === "nestedTxn") checkPlan(state, step.plan);
  }
}

function checkPut(state: MvccState, put: PutRequest): void {
  const needsPrevious = put.ignoreValue === true || put.ignoreLease === true;
  if (needsPrevious && state.index.visibleAt(toKeyString(put.key), state.revision) === undefined) {
    throw new MvccError("keyNotFound");
  }
  const lease = put.lease ?? 0;
  if (lease !== 0 && !state.leases.has(lease)) throw new MvccError("leaseNotFound");
}

function applyTxnOp(state: MvccState, request: TxnOp, prevKvInEvents: boolean): Applied {
  const plan = planOf(state, request);
  checkPlan(state, plan);
  const txn = new WriteTxn(state, prevKvInEvents);
  const responses = runPlan(txn, plan);
  const revision = txn.commit();
  const response: Response = request.op === "txn" ? { op: "txn", revision, succeeded: plan.succeeded, responses } : responses[0]!;
  return { response, events: txn.events };
}

function runPlan(txn: WriteTxn, plan: TxnPlan): TxnOpResponse[] {
  return plan.steps.map((step) => runStep(txn, step));
}

function runStep(txn: WriteTxn, step: TxnPlan["steps"][number]): TxnOpResponse {
  switch (step.op) {
    case "range":
      return txn.range(step);
    case "put":
      return txn.put(step);
    case "deleteRange":
      return txn.deleteRange(step);
    case "nestedTxn":
      // etcd leaves the header of a nested txn's response empty.
      return { op: "txn", revision: 0, succeeded: step.plan.succeeded, responses: runPlan(txn, step.plan) };
  }
}

function compact(state: MvccState, request: CompactOp): Response {
  if (request.revision <= state.compactRevision) throw new CompactedError(state.compactRevision);
  if (request.revision > state.revision) throw new MvccError("futureRevision");
  state.compact(request.revision);
  return { op: "compact", revision: state.revision };
}

function grantLease(state: MvccState, raftIndex: number, request: LeaseGrantOp, minLeaseTtl: number): Response {
  if (request.ttl > MAX_LEASE_TTL) throw new MvccError("leaseTtlTooLarge");
  const requestedId = request.id ?? 0;
  if (requestedId !== 0 && state.leases.has(requestedId)) throw new MvccError("leaseExists");
  const id = requestedId !== 0 ? requestedId : generatedLeaseId(raftIndex, (taken) => state.leases.has(taken));
  const ttl = Math.max(request.ttl, minLeaseTtl);
  state.writeLease({ id, ttl, remainingTtl: ttl, renewedAt: raftIndex });
  return { op: "leaseGrant", revision: state.revision, id, ttl };
}

/**
 * Deletes every attached key at one revision, in key order as etcd does, and
 * forgets the lease; unless the leader judged it expired before a renewal
 * that has since applied.
 */
function revokeLease(state: MvccState, request: LeaseRevokeOp, prevKvInEvents: boolean): Applied {
  const lease = state.leases.get(request.id);
  if (lease === undefined) throw new MvccError("leaseNotFound");
  if (renewedSince(lease, request.asOf)) return { response: { op: "leaseRevoke", revision: state.revision }, events: [] };
  const txn = new WriteTxn(state, prevKvInEvents);
  for (const key of state.leases.remove(request.id)) txn.deleteKey(key);
  state.deleteLease(request.id);
  return { response: { op: "leaseRevoke", revision: txn.commit() }, events: txn.events };
}

function renewLease(state: MvccState, raftIndex: number, request: LeaseRenewOp): Response {
  const lease = state.leases.get(request.id);
  if (lease === undefined) throw new MvccError("leaseNotFound");
  state.writeLease({ ...lease, remainingTtl: lease.ttl, renewedAt: raftIndex });
  return { op: "leaseRenew", revision: state.revision, ttl: lease.ttl };
}

/**
 * Checkpoints of leases that are gone (revoked after the leader took the
 * checkpoint), or renewed since, are skipped.
 */
function checkpointLeases(state: MvccState, request: LeaseCheckpointOp): Response {
  for (const { id, remainingTtl } of request.checkpoints) {
    const lease = state.leases.get(id);
    if (lease !== undefined && !renewedSince(lease, request.asOf)) state.writeLease({ ...lease, remainingTtl });
  }
  return { op: "leaseCheckpoint", revision: state.revision };
}
