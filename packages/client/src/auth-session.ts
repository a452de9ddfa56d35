/**
 * A client's login: with a user name and password, the client asks any
 * member for a token (etcd's /v3/auth/authenticate) before its first
 * request and sends it with every request after. A token the members call
 * invalid (the member restarted and lost its simple tokens, the password
 * changed, auth went off and on) is replaced once and the request sent
 * again; a token is also renewed before it lapses: a JWT shortly before
 * its `exp`, a simple token when it has been idle for most of etcd's
 * default TTL (members keep it for --auth-token-ttl after its last use).
 */

export interface Credentials {
  readonly user: string;
  readonly password: string;
}

/** Renew a JWT this long before it expires. */
const JWT_MARGIN_MS = 30_000;
/** A simple token idle this long is renewed: below etcd's default --auth-token-ttl of 300 s. */
const SIMPLE_IDLE_MS = 240_000;

interface HeldToken {
  readonly value: string;
  /** When a JWT says it expires; undefined for a simple token. */
  readonly expiresAt: number | undefined;
  lastUsed: number;
}

export class AuthSession {
  private held: HeldToken | undefined;
  private pending: Promise<HeldToken> | undefined;

  constructor(private readonly authenticate: () => Promise<string>) {}

  /** A token to send now, logging in (once, however many requests ask meanwhile) when none is fit. */
  async token(): Promise<string> {
    const now = Date.now();
    const held = this.held !== undefined && isFresh(this.held, now) ? this.held : await this.login();
    held.lastUsed = now;
    return held.value;
  }

  /** The members refused `token`: the next request logs in again (unless another already did). */
  forget(token: string): void {
    if (this.held?.value === token) this.held = undefined;
  }

  private login(): Promise<HeldToken> {
    this.pending ??= this.authenticate()
      .then((value) => {
        this.held = { value, expiresAt: jwtExpiry(value), lastUsed: Date.now() };
        return this.held;
      })
      .finally(() => {
        this.pending = undefined;
      });
    return this.pending;
  }
}

function isFresh(token: HeldToken, now: number): boolean {
  if (token.expiresAt !== undefined) return now < token.expiresAt - JWT_MARGIN_MS;
  return now - token.lastUsed < SIMPLE_IDLE_MS;
}

/** A JWT's `exp` in milliseconds; undefined for anything else (a simple token). */
function jwtExpiry(token: string): number | undefined {
  const parts = token.split(".");
  if (parts.length !== 3) return undefined;
  try {
    const { exp } = JSON.parse(Buffer.from(parts[1] as string, "base64url").toString("utf8")) as { exp?: unknown };
    return typeof exp === "number" ? exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}
