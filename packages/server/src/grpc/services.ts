/**
 * The service layer as the gRPC front end sees it: the one place that names
 * the member's request API methods the gRPC services call. When the service
 * layer changes shape, this module is re-pointed and nothing else in grpc/.
 */
import type { KvApi } from "../kv/api.js";

/** The KvApi methods the gRPC services call directly. */
export type GrpcBackend = Pick<
  KvApi,
  | "range"
  | "put"
  | "deleteRange"
  | "txn"
  | "compact"
  | "watch"
  | "leaseGrant"
  | "leaseRevoke"
  | "leaseKeepAlive"
  | "leaseTimeToLive"
  | "leaseLeases"
  | "memberList"
  | "memberAdd"
  | "memberRemove"
  | "memberUpdate"
  | "memberPromote"
  | "leaderClientUrl"
  | "status"
  | "hashKv"
  | "snapshot"
  | "moveLeader"
  | "alarm"
  | "header"
>;

export interface GrpcServices {
  readonly backend: GrpcBackend;
  /** What the lock and election recipes run on (they take the whole KvApi). */
  readonly recipes: KvApi;
  /** Whether this member knows a leader: requests that require one fail at once without it. */
  readonly hasLeader: () => boolean;
}

/** The gRPC front end's view of a member's request API and its Raft host. */
export function grpcServicesOf(api: KvApi, raft: { readonly leader: number }): GrpcServices {
  return { backend: api, recipes: api, hasLeader: () => raft.leader !== 0 };
}
