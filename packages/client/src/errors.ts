/**
 * What can go wrong, as typed errors: the server's own refusals (etcd's
 * messages and gRPC codes), no member answering, a watch whose history was
 * compacted, and a lease that is gone.
 */

/** gRPC status codes, as the server reports them in `code`. */
export const GrpcCode = {
  Cancelled: 1,
  Unknown: 2,
  InvalidArgument: 3,
  DeadlineExceeded: 4,
  NotFound: 5,
  AlreadyExists: 6,
  PermissionDenied: 7,
  ResourceExhausted: 8,
  FailedPrecondition: 9,
  Aborted: 10,
  OutOfRange: 11,
  Unimplemented: 12,
  Internal: 13,
  Unavailable: 14,
  DataLoss: 15,
  Unauthenticated: 16,
} as const;

export type GrpcCodeName = keyof typeof GrpcCode;

/** The name of a numeric gRPC code, "Unknown" for a number outside the table. */
export function grpcCodeName(code: number): GrpcCodeName {
  const found = (Object.keys(GrpcCode) as GrpcCodeName[]).find((name) => GrpcCode[name] === code);
  return found ?? "Unknown";
}

/** A refusal from a member: etcd's message (`etcdserver: …`, `mvcc: …`) and gRPC code, as the server sent them. */
export class EtcdError extends Error {
  override readonly name = "EtcdError";

  constructor(
    message: string,
    readonly code: number,
    readonly httpStatus: number,
    /** The member that answered. */
    readonly endpoint: string,
  ) {
    super(message);
  }

  get codeName(): GrpcCodeName {
    return grpcCodeName(this.code);
  }
}

/** Why one endpoint could not serve a request. */
export interface EndpointFailure {
  readonly endpoint: string;
  readonly reason: string;
}

/** No member answered before the request's deadline; says what each one did. */
export class NoEndpointAvailableError extends Error {
  override readonly name = "NoEndpointAvailableError";

  constructor(
    readonly failures: readonly EndpointFailure[],
    timeoutMs: number,
  ) {
    super(`no raftkv member answered within ${timeoutMs} ms:\n${failures.map(({ endpoint, reason }) => `  ${endpoint}: ${reason}`).join("\n")}`);
  }
}

/**
 * A request that must not be sent twice (a membership change, a leader
 * transfer) reached a member that then failed: whether it took effect is
 * unknown, so it was not retried. Read the state to find out.
 */
export class OutcomeUnknownError extends Error {
  override readonly name = "OutcomeUnknownError";

  constructor(
    readonly endpoint: string,
    readonly reason: string,
  ) {
    super(`${endpoint} failed after the request was sent (${reason}); it may or may not have taken effect`);
  }
}

/**
 * A watch asked for history that compaction removed: events were lost to
 * it for good. Re-list the keys (a read gives a current revision) and watch
 * again from after that revision.
 */
export class CompactedError extends Error {
  override readonly name = "CompactedError";

  constructor(
    /** The oldest revision still kept: history before it is gone. */
    readonly compactRevision: number,
    /** The revision the watch wanted to start from. */
    readonly requestedRevision: number,
  ) {
    super(`compacted: re-list: revision ${requestedRevision} was compacted (history starts at ${compactRevision})`);
  }
}

/** A lease ended (expired, revoked, or could not be renewed within its TTL): whatever it held is gone or about to be. */
export class LeaseLostError extends Error {
  override readonly name = "LeaseLostError";

  constructor(
    readonly leaseId: number,
    readonly reason: string,
  ) {
    super(`lease ${leaseId.toString(16)} lost: ${reason}`);
  }
}

/** A leader's action (proclaim) after it stopped being the leader: its key is gone or was replaced. */
export class NotLeaderError extends Error {
  override readonly name = "NotLeaderError";
}

/** A picker asked for an instance of a service that has none registered. */
export class NoInstanceError extends Error {
  override readonly name = "NoInstanceError";

  constructor(readonly service: string) {
    super(`service "${service}" has no registered instance`);
  }
}
