/**
 * Authentication and auth management, etcd v3's Auth service: who a request
 * is (from a token or a user name and password), whether that user may do
 * what it asks (see auth/permissions.ts), and users, roles and auth itself
 * changed through the log. Passwords are hashed and checked here, on the
 * member the request reached, never in apply.
 */
import { createHash } from "node:crypto";
import { isPermitted, isRoot, type Access } from "../auth/permissions.js";
import { hashPassword, verifyPassword } from "../auth/password.js";
import { roleOf, userOf, type AuthCommand, type AuthState, type Permission } from "../auth/state.js";
import type { AuthResult } from "../auth/store.js";
import type { TokenProvider } from "../auth/tokens.js";
import { etcdError } from "../errors.js";
import type * as api from "../kv/api.js";
import type { KvStateMachine } from "../kv/state-machine.js";
import type { RaftHost } from "../raft-host.js";
import type { Proposer } from "./proposer.js";

/** Who a request is: a user, or nobody (no credentials, or auth is off). */
export interface Identity {
  readonly user?: string;
}

export const ANONYMOUS: Identity = {};

/** What a front end found in a request. */
export type Credentials =
  | { readonly kind: "none" }
  | { readonly kind: "token"; readonly token: string }
  | { readonly kind: "password"; readonly user: string; readonly password: string }
  /** A client certificate the trusted CA signed, on a gRPC call without a token (etcd's --client-cert-auth): its CN is the user. */
  | { readonly kind: "certificate"; readonly commonName: string };

/** One thing a request needs: to read or write a key or range. */
export interface KeyAccess {
  readonly access: Access;
  readonly key: Uint8Array;
  readonly rangeEnd: Uint8Array;
}

export interface AuthServiceOptions {
  readonly stateMachine: Pick<KvStateMachine, "auth" | "appliedIndex">;
  /** Waits for what is applied, for a token issued by an entry this member has not applied yet. */
  readonly host: Pick<RaftHost, "until">;
  readonly proposer: Pick<Proposer, "propose" | "header">;
  readonly tokens: TokenProvider;
  /** etcd's --bcrypt-cost (see auth/password.ts). */
  readonly bcryptCost: number;
  /** How long to wait for the entry that issued an unknown simple token (TOKEN_CATCH_UP_MS unless a test says). */
  readonly tokenCatchUpMs?: number;
}

/**
 * How long a member that has not yet applied the entry that issued a simple
 * token waits to catch up before calling it invalid (etcd refuses at once,
 * etcd#18437).
 */
const TOKEN_CATCH_UP_MS = 3_000;

/** Passwords checked recently, so that HTTP Basic on every request does not cost a slow hash each time. */
const VERIFIED_CACHE_SIZE = 1_000;

export class AuthService {
  private readonly verified = new Map<string, number>();

  constructor(private readonly options: AuthServiceOptions) {}

  get state(): AuthState {
    return this.options.stateMachine.auth.state;
  }

  // ------------------------------------------------------------- identity

  async identify(credentials: Credentials): Promise<Identity> {
    // As in etcd, credentials are ignored while auth is off.
    if (!this.state.enabled || credentials.kind === "none") return ANONYMOUS;
    if (credentials.kind === "password") return this.checkPassword(credentials.user, credentials.password);
    if (credentials.kind === "certificate") return { user: credentials.commonName };
    return this.identifyToken(credentials.token);
  }

  private async identifyToken(token: string): Promise<Identity> {
    const tokens = this.options.tokens;
    let claims = tokens.resolve(token);
    const issuedAt = tokens.issuedAt(token);
    if (!claims && issuedAt > this.options.stateMachine.appliedIndex) {
      const catchUpMs = this.options.tokenCatchUpMs ?? TOKEN_CATCH_UP_MS;
      await this.options.host.until(() => this.options.stateMachine.appliedIndex >= issuedAt, catchUpMs).catch(() => undefined);
      claims = tokens.resolve(token);
    }
    if (!claims) throw etcdError("invalidAuthToken");
    const state = this.state;
    const user = state.users.get(claims.user);
    // Void once the user is gone or changed password, or auth went off and on again, after the token was issued.
    if (!user || user.credentialRevision > claims.revision || state.enabledRevision > claims.revision) throw etcdError("invalidAuthToken");
    return { user: claims.user };
  }

  private async checkPassword(name: string, password: string): Promise<Identity> {
    const user = this.state.users.get(name);
    if (!user?.password) throw etcdError("authFailed");
    const cacheKey = createHash("sha256").update(name).update("\0").update(password).digest("hex");
    if (this.verified.get(cacheKey) === user.credentialRevision) return { user: name };
    if (!(await verifyPassword(password, user.password))) throw etcdError("authFailed");
    if (this.verified.size >= VERIFIED_CACHE_SIZE) this.verified.clear();
    this.verified.set(cacheKey, user.credentialRevision);
    return { user: name };
  }

  // ---------------------------------------------------------- permissions

  /**
   * Throws etcd's error unless `identity` may make these accesses; returns
   * the auth revision checked at, for the write to carry into the log.
   */
  authorize(identity: Identity, accesses: readonly KeyAccess[]): number {
    const state = this.state;
    if (!state.enabled) return state.revision;
    const user = this.knownUser(state, identity);
    for (const { access, key, rangeEnd } of accesses) {
      if (!isPermitted(state, user, access, key, rangeEnd)) throw etcdError("permissionDenied");
    }
    return state.revision;
  }

  /** Membership, maintenance and auth management: root only, once auth is on. */
  authorizeRoot(identity: Identity): number {
    const state = this.state;
    if (!state.enabled) return state.revision;
    if (!isRoot(state, this.knownUser(state, identity))) throw etcdError("permissionDenied");
    return state.revision;
  }

  private knownUser(state: AuthState, identity: Identity): string {
    if (identity.user === undefined) throw etcdError("userEmpty");
    if (!state.users.has(identity.user)) throw etcdError("permissionDenied");
    return identity.user;
  }

  // ---------------------------------------------------------- the Auth API

  async authenticate(name: string, password: string): Promise<{ header: api.ResponseHeader; token: string }> {
    if (!this.state.enabled) throw etcdError("authNotEnabled");
    await this.checkPassword(name, password);
    const simplePart = this.options.tokens.newSimplePart();
    const command: AuthCommand = { op: "authenticate", name, ...(simplePart === undefined ? {} : { simpleToken: simplePart }) };
    const result = await this.propose(command, this.state.revision);
    const authenticated = result.authenticated;
    if (!authenticated) throw new Error("an applied authentication came back without its claims");
    const token = this.options.tokens.issue(authenticated.index, authenticated, authenticated.simplePart);
    return { header: this.options.proposer.header(), token };
  }

  async status(): Promise<{ header: api.ResponseHeader; enabled: boolean; authRevision: number }> {
    const { enabled, revision } = this.state;
    return { header: this.options.proposer.header(), enabled, authRevision: revision };
  }

  /** Turning auth on needs nobody while it is off; asked again once it is on, root (a no-op), as in etcd. */
  async enable(identity: Identity): Promise<{ header: api.ResponseHeader }> {
    return this.change({ op: "enable" }, this.authorizeRoot(identity));
  }

  async disable(identity: Identity): Promise<{ header: api.ResponseHeader }> {
    return this.change({ op: "disable" }, this.authorizeRoot(identity));
  }

  async userAdd(identity: Identity, name: string, password: string, noPassword: boolean): Promise<{ header: api.ResponseHeader }> {
    const checked = this.authorizeRoot(identity);
    if (name === "") throw etcdError("userEmpty");
    const command: AuthCommand = noPassword
      ? { op: "userAdd", name }
      : { op: "userAdd", name, password: await hashPassword(password, this.options.bcryptCost) };
    return this.change(command, checked);
  }

  async userChangePassword(identity: Identity, name: string, password: string): Promise<{ header: api.ResponseHeader }> {
    const checked = this.authorizeRoot(identity);
    userOf(this.state, name);
    return this.change({ op: "userChangePassword", name, password: await hashPassword(password, this.options.bcryptCost) }, checked);
  }

  async userDelete(identity: Identity, name: string): Promise<{ header: api.ResponseHeader }> {
    return this.change({ op: "userDelete", name }, this.authorizeRoot(identity));
  }

  async userGrantRole(identity: Identity, user: string, role: string): Promise<{ header: api.ResponseHeader }> {
    return this.change({ op: "userGrantRole", user, role }, this.authorizeRoot(identity));
  }

  async userRevokeRole(identity: Identity, name: string, role: string): Promise<{ header: api.ResponseHeader }> {
    return this.change({ op: "userRevokeRole", name, role }, this.authorizeRoot(identity));
  }

  /** Root, or (as in etcd) a user asking about itself. */
  async userGet(identity: Identity, name: string): Promise<{ header: api.ResponseHeader; roles: readonly string[] }> {
    if (identity.user !== name || !this.state.users.has(name)) this.authorizeRoot(identity);
    return { header: this.options.proposer.header(), roles: userOf(this.state, name).roles };
  }

  async userList(identity: Identity): Promise<{ header: api.ResponseHeader; users: readonly string[] }> {
    this.authorizeRoot(identity);
    return { header: this.options.proposer.header(), users: [...this.state.users.keys()].sort() };
  }

  async roleAdd(identity: Identity, name: string): Promise<{ header: api.ResponseHeader }> {
    return this.change({ op: "roleAdd", name }, this.authorizeRoot(identity));
  }

  async roleDelete(identity: Identity, role: string): Promise<{ header: api.ResponseHeader }> {
    return this.change({ op: "roleDelete", role }, this.authorizeRoot(identity));
  }

  async roleGrantPermission(identity: Identity, name: string, permission: Permission | undefined): Promise<{ header: api.ResponseHeader }> {
    const checked = this.authorizeRoot(identity);
    if (!permission) throw etcdError("permissionNotGiven");
    return this.change({ op: "roleGrantPermission", name, permission }, checked);
  }

  async roleRevokePermission(identity: Identity, role: string, key: Uint8Array, rangeEnd: Uint8Array): Promise<{ header: api.ResponseHeader }> {
    return this.change({ op: "roleRevokePermission", role, key, rangeEnd }, this.authorizeRoot(identity));
  }

  /** Root, or (as in etcd) a user asking about a role it holds. */
  async roleGet(identity: Identity, name: string): Promise<{ header: api.ResponseHeader; permissions: readonly Permission[] }> {
    const holds = identity.user !== undefined && (this.state.users.get(identity.user)?.roles.includes(name) ?? false);
    if (!holds) this.authorizeRoot(identity);
    // As etcd 3.4 shows it, the root role lists no permissions: it needs none.
    return { header: this.options.proposer.header(), permissions: roleOf(this.state, name).permissions };
  }

  async roleList(identity: Identity): Promise<{ header: api.ResponseHeader; roles: readonly string[] }> {
    this.authorizeRoot(identity);
    return { header: this.options.proposer.header(), roles: [...this.state.roles.keys()].sort() };
  }

  private async change(command: AuthCommand, checkedRevision: number): Promise<{ header: api.ResponseHeader }> {
    await this.propose(command, checkedRevision);
    return { header: this.options.proposer.header() };
  }

  private async propose(command: AuthCommand, checkedRevision: number): Promise<AuthResult> {
    return (await this.options.proposer.propose({ kind: "auth", command }, { authRevision: checkedRevision })) as AuthResult;
  }
}
