/**
 * Errors as typed objects: tables of etcd's messages (the strings clients
 * match on), each with its gRPC code and the HTTP status etcd's JSON gateway
 * gives it. One fastify error handler turns them into replies.
 */
import { ETCD_ERRORS as STORE_ERRORS, type MvccErrorCode } from "@raftkv/mvcc";

/** gRPC status codes, as etcd's gateway reports them in `code`. */
export enum GrpcCode {
  InvalidArgument = 3,
  DeadlineExceeded = 4,
  NotFound = 5,
  AlreadyExists = 6,
  ResourceExhausted = 8,
  PermissionDenied = 7,
  FailedPrecondition = 9,
  OutOfRange = 11,
  Unimplemented = 12,
  Internal = 13,
  Unavailable = 14,
  DataLoss = 15,
  Unauthenticated = 16,
}

const HTTP_STATUS: Record<GrpcCode, number> = {
  [GrpcCode.InvalidArgument]: 400,
  [GrpcCode.DeadlineExceeded]: 504,
  [GrpcCode.NotFound]: 404,
  [GrpcCode.AlreadyExists]: 409,
  [GrpcCode.PermissionDenied]: 403,
  [GrpcCode.ResourceExhausted]: 429,
  // etcd 3.4's gateway answers 412 (a lease grant with an ID in use, a bad leader transferee, …).
  [GrpcCode.FailedPrecondition]: 412,
  [GrpcCode.OutOfRange]: 400,
  [GrpcCode.Unimplemented]: 501,
  [GrpcCode.Internal]: 500,
  [GrpcCode.Unavailable]: 503,
  [GrpcCode.DataLoss]: 500,
  [GrpcCode.Unauthenticated]: 401,
};

/** etcd's error strings for what the server itself refuses; the store's own are in @raftkv/mvcc. */
const SERVER_ERRORS = {
  memberExists: [GrpcCode.FailedPrecondition, "etcdserver: member ID already exist"],
  peerUrlExists: [GrpcCode.FailedPrecondition, "etcdserver: Peer URLs already exists"],
  memberNotFound: [GrpcCode.NotFound, "etcdserver: member not found"],
  memberBadUrls: [GrpcCode.InvalidArgument, "etcdserver: given member URLs are invalid"],
  memberNotLearner: [GrpcCode.FailedPrecondition, "etcdserver: can only promote a learner member"],
  learnerNotReady: [GrpcCode.FailedPrecondition, "etcdserver: can only promote a learner member which is in sync with leader"],
  notEnoughStartedMembers: [GrpcCode.FailedPrecondition, "etcdserver: re-configuration failed due to not enough started members"],
  badLeaderTransferee: [GrpcCode.FailedPrecondition, "etcdserver: bad leader transferee"],
  noLeader: [GrpcCode.Unavailable, "etcdserver: no leader"],
  notLeader: [GrpcCode.FailedPrecondition, "etcdserver: not leader"],
  leaderChanged: [GrpcCode.Unavailable, "etcdserver: leader changed"],
  timeout: [GrpcCode.Unavailable, "etcdserver: request timed out"],
  stopped: [GrpcCode.Unavailable, "etcdserver: server stopped"],
  requestTooLarge: [GrpcCode.InvalidArgument, "etcdserver: request is too large"],
  tooManyRequests: [GrpcCode.ResourceExhausted, "etcdserver: too many requests"],
  corrupt: [GrpcCode.DataLoss, "etcdserver: corrupt cluster"],
  noSpace: [GrpcCode.ResourceExhausted, "etcdserver: mvcc: database space exceeded"],
  electionNotLeader: [GrpcCode.FailedPrecondition, "election: not leader"],
  electionNoLeader: [GrpcCode.NotFound, "election: no leader"],
  rootUserNotExist: [GrpcCode.FailedPrecondition, "etcdserver: root user does not exist"],
  rootRoleNotExist: [GrpcCode.FailedPrecondition, "etcdserver: root user does not have root role"],
  userAlreadyExist: [GrpcCode.FailedPrecondition, "etcdserver: user name already exists"],
  userEmpty: [GrpcCode.InvalidArgument, "etcdserver: user name is empty"],
  userNotFound: [GrpcCode.FailedPrecondition, "etcdserver: user name not found"],
  roleAlreadyExist: [GrpcCode.FailedPrecondition, "etcdserver: role name already exists"],
  roleNotFound: [GrpcCode.FailedPrecondition, "etcdserver: role name not found"],
  roleEmpty: [GrpcCode.InvalidArgument, "etcdserver: role name is empty"],
  authFailed: [GrpcCode.InvalidArgument, "etcdserver: authentication failed, invalid user ID or password"],
  permissionNotGiven: [GrpcCode.InvalidArgument, "etcdserver: permission not given"],
  permissionDenied: [GrpcCode.PermissionDenied, "etcdserver: permission denied"],
  roleNotGranted: [GrpcCode.FailedPrecondition, "etcdserver: role is not granted to the user"],
  permissionNotGranted: [GrpcCode.FailedPrecondition, "etcdserver: permission is not granted to the role"],
  authNotEnabled: [GrpcCode.FailedPrecondition, "etcdserver: authentication is not enabled"],
  invalidAuthToken: [GrpcCode.Unauthenticated, "etcdserver: invalid auth token"],
  invalidAuthMgmt: [GrpcCode.InvalidArgument, "etcdserver: invalid auth management"],
  authOldRevision: [GrpcCode.InvalidArgument, "etcdserver: revision of auth store is old"],
} as const satisfies Record<string, readonly [GrpcCode, string]>;

export type EtcdErrorName = keyof typeof SERVER_ERRORS | MvccErrorCode;

export class RaftkvError extends Error {
  override readonly name = "RaftkvError";

  constructor(
    readonly grpcCode: GrpcCode,
    message: string,
  ) {
    super(message);
  }

  get httpStatus(): number {
    return HTTP_STATUS[this.grpcCode];
  }

  /** The body etcd's JSON gateway sends for an error. */
  toJSON(): { error: string; code: number; message: string } {
    return { error: this.message, code: this.grpcCode, message: this.message };
  }
}

export function etcdError(name: EtcdErrorName): RaftkvError {
  if (name in SERVER_ERRORS) {
    const [code, message] = SERVER_ERRORS[name as keyof typeof SERVER_ERRORS];
    return new RaftkvError(code, message);
  }
  const { grpcCode, message } = STORE_ERRORS[name as MvccErrorCode];
  return new RaftkvError(grpcCode, message);
}

/** Whether `error` is etcd's error of that name (clients tell them apart by message, so do we). */
export function isEtcdError(error: unknown, name: EtcdErrorName): boolean {
  return error instanceof RaftkvError && error.message === etcdError(name).message;
}

/** A malformed request: a clear message naming what is wrong. */
export function invalidArgument(message: string): RaftkvError {
  return new RaftkvError(GrpcCode.InvalidArgument, message);
}
