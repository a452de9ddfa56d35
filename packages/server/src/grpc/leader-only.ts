/**
 * Membership changes are decided by the leader: on another member, the gRPC
 * call is forwarded to the leader's gateway as the HTTP route is (see
 * http/leader-forward.ts), with the call's token, so that the leader checks
 * the same user. The gateway's JSON reply uses the proto's field names, so
 * it is the gRPC reply as it stands.
 */
import { askLeader } from "../http/leader-forward.js";
import type { MemberClientTls } from "../http/tls.js";
import { GrpcCode, RaftkvError } from "../errors.js";
import type { CallScope } from "./services.js";

export interface LeaderOnlyCall<T> {
  /** The gateway route that answers the same request on the leader. */
  readonly path: string;
  /** The request as that route's JSON body. */
  readonly body: unknown;
  readonly answerHere: () => Promise<T>;
}

export async function answerOnLeader<T>(
  { cluster, token }: CallScope,
  memberTls: MemberClientTls | undefined,
  request: LeaderOnlyCall<T>,
): Promise<T | Record<string, unknown>> {
  const answer = await askLeader({
    locateLeader: () => cluster.leaderClientUrl(),
    ...request,
    ...(token === undefined ? {} : { authorization: token }),
    ...(memberTls ? { tls: memberTls } : {}),
  });
  if ("here" in answer) return answer.here;
  const reply = JSON.parse(answer.forwarded.body) as Record<string, unknown>;
  if (answer.forwarded.status >= 400) throw new RaftkvError(Number(reply.code ?? GrpcCode.Internal) as GrpcCode, String(reply.error ?? reply.message));
  return reply;
}
