/**
 * The service layer as the gRPC front end sees it: the member's services, of
 * which cluster and maintenance calls use only what is named here.
 */
import type { ClusterApi, KvApi, MaintenanceApi, MemberApis } from "../kv/api.js";

export interface GrpcServices {
  readonly kv: KvApi;
  readonly cluster: Pick<ClusterApi, "memberList" | "memberAdd" | "memberRemove" | "memberUpdate" | "memberPromote" | "leaderClientUrl">;
  readonly maintenance: Pick<MaintenanceApi, "status" | "hashKv" | "snapshot" | "moveLeader" | "alarm">;
  /** Whether this member knows a leader: requests that require one fail at once without it. */
  readonly hasLeader: () => boolean;
}

/** The gRPC front end's view of a member's services and its Raft host. */
export function grpcServicesOf({ kv, cluster, maintenance }: MemberApis, raft: { readonly leader: number }): GrpcServices {
  return { kv, cluster, maintenance, hasLeader: () => raft.leader !== 0 };
}
