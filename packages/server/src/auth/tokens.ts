/**
 * Auth tokens, as etcd's --auth-token sets them up.
 *
 * - simple: a random string and the index of the log entry that issued it
 *   (`<16 letters>.<index>`, etcd's shape). Every member learns it when it
 *   applies that entry (without reading a clock: apply never does) and
 *   keeps it for --auth-token-ttl seconds after its last use, timed by its
 *   own clock outside apply. A member that has not applied the entry yet
 *   knows from the index to wait for it.
 * - jwt: signed with node:crypto (no dependency needed for the JWS compact
 *   form and four algorithm families), etcd's claims `username`,
 *   `revision` and `exp`. Any member with the public key checks it at once.
 *
 * Either way a token also carries the auth revision it was issued at, and
 * the auth service voids it when the user was deleted or changed password
 * after that, or auth was turned off and on again (see AuthService).
 */
import { createPrivateKey, createPublicKey, randomInt, sign, verify, constants, type KeyObject } from "node:crypto";
import { readFileSync } from "node:fs";
import { parseDurationMs } from "../config.js";
import { invalidArgument } from "../errors.js";

export interface TokenClaims {
  readonly user: string;
  /** The auth revision the token was issued at. */
  readonly revision: number;
}

export interface TokenProvider {
  /** The random part a simple token's authenticate entry carries, so every member learns the same token. */
  newSimplePart(): string | undefined;
  /** Every member, on applying an authentication. */
  learn(index: number, claims: TokenClaims, simplePart: string | undefined): void;
  /** The member that proposed it, once applied: the token to hand out. */
  issue(index: number, claims: TokenClaims, simplePart: string | undefined): string;
  /** The claims of a token this member accepts now; undefined if it does not (yet) know it. */
  resolve(token: string): TokenClaims | undefined;
  /** The log index a member must have applied before it can know the token; 0 when waiting cannot help. */
  issuedAt(token: string): number;
}

const SIMPLE_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

export class SimpleTokens implements TokenProvider {
  /** `expiresAt` undefined: learned and not used since; the next use or sweep starts its TTL. */
  private readonly tokens = new Map<string, TokenClaims & { expiresAt: number | undefined }>();

  constructor(private readonly ttlMs: number) {
    setInterval(() => this.forgetExpired(), Math.max(1000, ttlMs)).unref();
  }

  newSimplePart(): string {
    let part = "";
    for (let i = 0; i < 16; i++) part += SIMPLE_LETTERS[randomInt(SIMPLE_LETTERS.length)];
    return part;
  }

  learn(index: number, claims: TokenClaims, simplePart: string | undefined): void {
    if (simplePart !== undefined) this.tokens.set(`${simplePart}.${index}`, { ...claims, expiresAt: undefined });
  }

  issue(index: number, _claims: TokenClaims, simplePart: string | undefined): string {
    return `${simplePart}.${index}`;
  }

  resolve(token: string): TokenClaims | undefined {
    const known = this.tokens.get(token);
    if (!known || (known.expiresAt !== undefined && known.expiresAt <= Date.now())) return undefined;
    // As in etcd, a simple token lives for the TTL after its last use.
    known.expiresAt = Date.now() + this.ttlMs;
    return { user: known.user, revision: known.revision };
  }

  issuedAt(token: string): number {
    const match = /^[a-zA-Z]{16}\.(\d{1,15})$/.exec(token);
    return match ? Number(match[1]) : 0;
  }

  private forgetExpired(): void {
    const now = Date.now();
    for (const [token, known] of this.tokens) {
      if (known.expiresAt === undefined) known.expiresAt = now + this.ttlMs;
      else if (known.expiresAt <= now) this.tokens.delete(token);
    }
  }
}

/** etcd's sign methods, by family, as node:crypto signs them. */
const JWT_ALGORITHMS: Record<string, { hash: string | null; options: object }> = {
  RS256: { hash: "sha256", options: {} },
  RS384: { hash: "sha384", options: {} },
  RS512: { hash: "sha512", options: {} },
  PS256: { hash: "sha256", options: { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST } },
  PS384: { hash: "sha384", options: { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST } },
  PS512: { hash: "sha512", options: { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST } },
  ES256: { hash: "sha256", options: { dsaEncoding: "ieee-p1363" } },
  ES384: { hash: "sha384", options: { dsaEncoding: "ieee-p1363" } },
  ES512: { hash: "sha512", options: { dsaEncoding: "ieee-p1363" } },
  EdDSA: { hash: null, options: {} },
};

export interface JwtOptions {
  readonly signMethod: string;
  readonly publicKey: KeyObject;
  /** Without it the member verifies tokens but cannot issue them (etcd's verify-only mode). */
  readonly privateKey?: KeyObject;
  readonly ttlMs: number;
}

export class JwtTokens implements TokenProvider {
  private readonly algorithm: { hash: string | null; options: object };
  private readonly header: string;

  constructor(private readonly options: JwtOptions) {
    const algorithm = JWT_ALGORITHMS[options.signMethod];
    if (!algorithm) throw invalidArgument(`--auth-token: unsupported sign-method ${options.signMethod} (one of ${Object.keys(JWT_ALGORITHMS).join(", ")})`);
    this.algorithm = algorithm;
    this.header = base64url(JSON.stringify({ alg: options.signMethod, typ: "JWT" }));
  }

  newSimplePart(): undefined {
    return undefined;
  }

  learn(): void {}

  issue(_index: number, claims: TokenClaims): string {
    if (!this.options.privateKey) throw invalidArgument("--auth-token: this member has no priv-key to sign tokens with");
    const exp = Math.floor((Date.now() + this.options.ttlMs) / 1000);
    const payload = base64url(JSON.stringify({ username: claims.user, revision: claims.revision, exp }));
    const signed = `${this.header}.${payload}`;
    const signature = sign(this.algorithm.hash, Buffer.from(signed), { key: this.options.privateKey, ...this.algorithm.options });
    return `${signed}.${signature.toString("base64url")}`;
  }

  resolve(token: string): TokenClaims | undefined {
    const parts = token.split(".");
    if (parts.length !== 3) return undefined;
    const [header, payload, signature] = parts as [string, string, string];
    // Only our own header: no algorithm confusion ("none", or HMAC keyed with the public key).
    if (header !== this.header) return undefined;
    const key = { key: this.options.publicKey, ...this.algorithm.options };
    if (!verify(this.algorithm.hash, Buffer.from(`${header}.${payload}`), key, Buffer.from(signature, "base64url"))) return undefined;
    const claims = parseJson(Buffer.from(payload, "base64url").toString("utf8"));
    const { username, revision, exp } = claims ?? {};
    if (typeof username !== "string" || !Number.isSafeInteger(revision) || typeof exp !== "number") return undefined;
    if (exp * 1000 <= Date.now()) return undefined;
    return { user: username, revision: revision as number };
  }

  issuedAt(): number {
    return 0;
  }
}

function base64url(text: string): string {
  return Buffer.from(text).toString("base64url");
}

function parseJson(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === "object" && value !== null ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

export const DEFAULT_AUTH_TOKEN_TTL_S = 300;

/**
 * etcd's --auth-token: `simple`, or `jwt,pub-key=<file>,priv-key=<file>,sign-method=<alg>[,ttl=<duration>]`
 * (ttl defaults to 5m, as in etcd). --auth-token-ttl is the simple token's TTL in seconds.
 */
export function tokenProviderFor(spec: string, simpleTtlSeconds: number): TokenProvider {
  const [kind, ...options] = spec.split(",");
  if (kind === "simple") return new SimpleTokens(simpleTtlSeconds * 1000);
  if (kind !== "jwt") throw invalidArgument(`--auth-token: expected simple or jwt, got ${JSON.stringify(kind)}`);
  const settings = new Map(
    options.map((option) => {
      const separator = option.indexOf("=");
      if (separator <= 0) throw invalidArgument(`--auth-token: expected name=value, got ${JSON.stringify(option)}`);
      return [option.slice(0, separator), option.slice(separator + 1)] as const;
    }),
  );
  const publicKeyFile = settings.get("pub-key");
  if (!publicKeyFile) throw invalidArgument("--auth-token: jwt needs pub-key=<file>");
  const privateKeyFile = settings.get("priv-key");
  const ttlMs = parseDurationMs(settings.get("ttl") ?? "5m", "s");
  if (ttlMs === undefined || ttlMs <= 0) throw invalidArgument(`--auth-token: invalid ttl ${settings.get("ttl")}`);
  return new JwtTokens({
    signMethod: settings.get("sign-method") ?? "RS256",
    publicKey: readKey(publicKeyFile, (pem) => createPublicKey(pem)),
    ...(privateKeyFile ? { privateKey: readKey(privateKeyFile, (pem) => createPrivateKey(pem)) } : {}),
    ttlMs,
  });
}

function readKey(file: string, parse: (pem: Buffer) => KeyObject): KeyObject {
  try {
    return parse(readFileSync(file));
  } catch (error) {
    throw invalidArgument(`--auth-token: cannot read the key in ${file}: ${(error as Error).message}`);
  }
}
