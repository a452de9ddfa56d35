/**
 * The auth state at apply time. It lives in the MVCC store's LevelDB as a
 * side record (written with the entry's applied index, carried in snapshots
 * and backups), and is decoded once per change.
 *
 * Before a batch of entries goes to the MVCC store, `prepare` decides, in
 * log order, what each entry means for auth: an auth command's new state
 * (or etcd's error), and for a write checked against an auth revision
 * older than the current one while auth is on, etcd's "revision of auth
 * store is old" instead of applying it, so that no write a permission
 * change has since forbidden is ever applied.
 */
import { RaftkvError, etcdError } from "../errors.js";
import { applyAuthCommand, decodeAuthState, encodeAuthState, type AuthCommand, type AuthState } from "./state.js";
import type { TokenClaims, TokenProvider } from "./tokens.js";

const SIDE_RECORD = "auth";

/** One entry as auth sees it. */
export interface AuthEntry {
  readonly index: number;
  /** Set for an auth command. */
  readonly command?: AuthCommand;
  /** The auth revision the request's permissions were checked at, if a client sent it. */
  readonly checkedRevision?: number;
}

export type AuthOutcome =
  | { readonly status: "rejected"; readonly error: RaftkvError }
  | { readonly status: "applied"; readonly sideRecord?: { readonly name: string; readonly value: Uint8Array }; readonly result: AuthResult };

export interface AuthResult {
  /** The auth revision after the command. */
  readonly revision: number;
  /** For an authentication: whom the token is for, the entry that issued it, and the simple token's random part. */
  readonly authenticated?: TokenClaims & { readonly index: number; readonly simplePart?: string };
}

interface SideRecords {
  sideRecord(name: string): Uint8Array | undefined;
}

export class AuthStore {
  private cached: { bytes: Uint8Array | undefined; state: AuthState } | undefined;

  constructor(
    private readonly records: SideRecords,
    private readonly tokens: TokenProvider,
  ) {}

  /** The state as applied; after a snapshot import, the imported one. */
  get state(): AuthState {
    const bytes = this.records.sideRecord(SIDE_RECORD);
    const cached = this.cached;
    if (cached !== undefined && cached.bytes === bytes) return cached.state;
    const state = decodeAuthState(bytes);
    this.cached = { bytes, state };
    return state;
  }

  /** What each entry (in log order, none applied yet) means for auth; entries with nothing to say are left out. */
  prepare(entries: readonly AuthEntry[]): Map<number, AuthOutcome> {
    const outcomes = new Map<number, AuthOutcome>();
    let state = this.state;
    for (const { index, command, checkedRevision } of entries) {
      if (checkedRevision !== undefined && state.enabled && checkedRevision < state.revision) {
        outcomes.set(index, { status: "rejected", error: etcdError("authOldRevision") });
      } else if (command !== undefined) {
        const { outcome, next } = this.applyCommand(state, index, command);
        state = next;
        outcomes.set(index, outcome);
      }
    }
    return outcomes;
  }

  private applyCommand(state: AuthState, index: number, command: AuthCommand): { outcome: AuthOutcome; next: AuthState } {
    let next: AuthState;
    try {
      next = applyAuthCommand(state, command);
    } catch (error) {
      if (error instanceof RaftkvError) return { outcome: { status: "rejected", error }, next: state };
      throw error;
    }
    if (command.op === "authenticate") {
      const claims = { user: command.name, revision: state.revision };
      this.tokens.learn(index, claims, command.simpleToken);
      const authenticated = { ...claims, index, ...(command.simpleToken === undefined ? {} : { simplePart: command.simpleToken }) };
      return { outcome: { status: "applied", result: { revision: state.revision, authenticated } }, next };
    }
    const result = { revision: next.revision };
    if (next === state) return { outcome: { status: "applied", result }, next };
    return { outcome: { status: "applied", sideRecord: { name: SIDE_RECORD, value: encodeAuthState(next) }, result }, next };
  }
}
