/**
 * The service layer as the gRPC front end sees it: the member's services, of
 * which cluster and maintenance calls use only what is named here.
 */
import { GrpcCode, RaftkvError } from "../errors.js";
import type { ClusterApi, KvApi, MaintenanceApi, MemberApis } from "../kv/api.js";
import { assertLeaderIfRequired, type Admission } from "./calls.js";

export interface GrpcServices {
  readonly kv: KvApi;
  readonly cluster: Pick<ClusterApi, "memberList" | "memberAdd" | "memberRemove" | "memberUpdate" | "memberPromote" | "leaderClientUrl">;
  readonly maintenance: Pick<MaintenanceApi, "status" | "hashKv" | "snapshot" | "moveLeader" | "alarm" | "defragment">;
  /** Every call passes this first: requests that require a leader fail at once without one. */
  readonly admit: Admission;
}

/**
 * The gRPC front end's view of a member's services and its Raft host. The
 * services are unguarded: while auth is on, every call is refused rather
 * than served without the permission checks of services/guard.ts, until
 * gRPC reads the caller's token (etcd's `token` metadata).
 */
export function grpcServicesOf({ kv, cluster, maintenance }: MemberApis, raft: { readonly leader: number }, authEnabled: () => boolean): GrpcServices {
  const admit: Admission = (metadata) => {
    if (authEnabled()) throw new RaftkvError(GrpcCode.Unimplemented, "raftkv: gRPC is refused while auth is enabled; use the JSON gateway with a token");
    assertLeaderIfRequired(metadata, () => raft.leader !== 0);
  };
  return { kv, cluster, maintenance, admit };
}
