/**
 * The service layer as the gRPC front end sees it. A call is admitted with
 * the services as its caller may use them (services/guard.ts: the checks
 * the gateway's requests pass too, the one place they live). The caller is
 * the user its `token` metadata names (what clientv3 and etcdctl send) or,
 * without a token, on a connection whose client certificate the trusted CA
 * signed (--client-cert-auth), the user named by the certificate's CN, as
 * in etcd.
 */
import type { MemberClientTls } from "../http/tls.js";
import type { MemberApis } from "../kv/api.js";
import { ANONYMOUS, type AuthService, type Credentials, type Identity } from "../services/auth.js";
import { guardedApis } from "../services/guard.js";
import { assertLeaderIfRequired, type Admission, type CallContext } from "./calls.js";

/** etcd's metadata key for the auth token (rpctypes.TokenFieldNameGRPC). */
const TOKEN_KEY = "token";

/** What an admitted call works with: the services as its caller may use them, and who the caller is. */
export interface CallScope extends MemberApis {
  readonly identity: Identity;
  /** The call's token, passed on when a leader-only request is forwarded to the leader. */
  readonly token: string | undefined;
}

export interface GrpcServices {
  /** Every call but Authenticate: one that requires a leader fails at once without one; then its caller is identified. */
  readonly admit: Admission<CallScope>;
  /** Authenticate's: the leader check alone (etcd reads no token there: it may be the stale one being replaced). */
  readonly admitAnyone: Admission<void>;
  readonly auth: AuthService;
  /** How this member reaches an https:// leader when it forwards a leader-only request (see http/leader-forward.ts). */
  readonly memberTls: MemberClientTls | undefined;
}

export interface GrpcServicesOptions {
  readonly raft: { readonly leader: number };
  readonly memberTls: MemberClientTls | undefined;
}

export function grpcServicesOf(apis: MemberApis, auth: AuthService, { raft, memberTls }: GrpcServicesOptions): GrpcServices {
  const hasLeader = (): boolean => raft.leader !== 0;
  const admitAnyone = async (call: CallContext): Promise<void> => assertLeaderIfRequired(call.metadata, hasLeader);
  // Guarded while auth is off too: a write then carries the auth revision it was let through at (see services/guard.ts).
  // Calls without a token while auth is off, most calls, share this one scope rather than each making its own.
  const anonymous: CallScope = { ...guardedApis(apis, auth, ANONYMOUS), identity: ANONYMOUS, token: undefined };
  const admit = async (call: CallContext): Promise<CallScope> => {
    assertLeaderIfRequired(call.metadata, hasLeader);
    const token = tokenOf(call);
    const identity = await auth.identify(credentialsOf(call, token));
    if (identity === ANONYMOUS && token === undefined) return anonymous;
    return { ...(identity === ANONYMOUS ? anonymous : guardedApis(apis, auth, identity)), identity, token };
  };
  return { admit, admitAnyone, auth, memberTls };
}

/**
 * The first token the call carries. Node's HTTP/2 joins a header sent more
 * than once with ", " (python-etcd3 sends its token twice), and no token,
 * simple or JWT, holds a comma.
 */
function tokenOf(call: CallContext): string | undefined {
  const token = call.metadata.get(TOKEN_KEY)[0];
  return token === undefined ? undefined : String(token).split(",")[0]!.trim();
}

/** The token, else the CN of a client certificate the trusted CA signed (grpc-js names one only once verified). */
function credentialsOf(call: CallContext, token: string | undefined): Credentials {
  if (token !== undefined) return { kind: "token", token };
  const names = call.getAuthContext().sslPeerCertificate?.subject?.CN as string | string[] | undefined;
  // Of several CNs, Go's x509 (so etcd) keeps the last.
  const commonName = Array.isArray(names) ? names.at(-1) : names;
  return commonName ? { kind: "certificate", commonName } : { kind: "none" };
}
