/**
 * The errors a request can be rejected with, in one table, with etcd 3.4's
 * exact messages and the gRPC status codes its JSON gateway reports (3
 * INVALID_ARGUMENT, 5 NOT_FOUND, 9 FAILED_PRECONDITION, 11 OUT_OF_RANGE), so
 * that the server can answer exactly as etcd would.
 */
import { MAX_REQUEST_ID_LENGTH } from "./request-ids.js";

export const ETCD_ERRORS = {
  emptyKey: { message: "etcdserver: key is not provided", grpcCode: 3 },
  valueProvided: { message: "etcdserver: value is provided", grpcCode: 3 },
  leaseProvided: { message: "etcdserver: lease is provided", grpcCode: 3 },
  keyNotFound: { message: "etcdserver: key not found", grpcCode: 3 },
  duplicateKey: { message: "etcdserver: duplicate key given in txn request", grpcCode: 3 },
  tooManyOps: { message: "etcdserver: too many operations in txn request", grpcCode: 3 },
  compacted: { message: "etcdserver: mvcc: required revision has been compacted", grpcCode: 11 },
  futureRevision: { message: "etcdserver: mvcc: required revision is a future revision", grpcCode: 11 },
  leaseNotFound: { message: "etcdserver: requested lease not found", grpcCode: 5 },
  leaseExists: { message: "etcdserver: lease already exists", grpcCode: 9 },
  leaseTtlTooLarge: { message: "etcdserver: too large lease TTL", grpcCode: 11 },
  // raftkv's own, for client request ids (etcd has none).
  requestIdInvalid: { message: `raftkv: a request id must be 1 to ${MAX_REQUEST_ID_LENGTH} characters`, grpcCode: 3 },
  requestIdReused: { message: "raftkv: the request id was already used for a different request", grpcCode: 3 },
} as const;

export type MvccErrorCode = keyof typeof ETCD_ERRORS;

/**
 * A request the state machine rejects. Rejections are deterministic: every
 * replica rejects the same request in the same state, so they are results of
 * apply, not failures of the store.
 */
export class MvccError extends Error {
  readonly grpcCode: number;

  constructor(readonly code: MvccErrorCode) {
    super(ETCD_ERRORS[code].message);
    this.name = "MvccError";
    this.grpcCode = ETCD_ERRORS[code].grpcCode;
  }
}

/** A read or watch below the compacted revision; carries that revision for watch responses. */
export class CompactedError extends MvccError {
  constructor(readonly compactRevision: number) {
    super("compacted");
    this.name = "CompactedError";
  }
}

/**
 * The store cannot serve at all: it is closed, restoring a snapshot, or a
 * LevelDB write failed (memory is then ahead of disk, and only reopening the
 * store, which rebuilds memory from disk, makes it usable again).
 */
export class StoreUnavailableError extends Error {
  constructor(reason: string, options?: ErrorOptions) {
    super(`mvcc store unavailable: ${reason}`, options);
    this.name = "StoreUnavailableError";
  }
}
