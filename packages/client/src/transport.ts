/**
 * HTTP to the members, with failover: a request goes to the member the pool
 * prefers; if that member cannot serve it (refused or reset connection, no
 * answer in time, "no leader", "leader changed", any Unavailable answer),
 * the same request goes to the next member, until one answers or the
 * deadline passes. What a member refuses for a reason of its own (a bad
 * request, a failed precondition) is final and thrown as an EtcdError.
 *
 * Reads are retried freely. A write carries one Idempotency-Key for all its
 * attempts, so the server applies it at most once however many members saw
 * it. The few calls that have no such protection (membership changes, leader
 * transfer) are retried only when they surely never reached a member.
 */
import { randomUUID } from "node:crypto";
import { Agent, request as undiciRequest, type Dispatcher } from "undici";
import { AuthSession, type Credentials } from "./auth-session.js";
import { EndpointPool, normalizeUrl } from "./endpoints.js";
import { EtcdError, GrpcCode, NoEndpointAvailableError, OutcomeUnknownError } from "./errors.js";
import { pauseUnlessAborted } from "./pause.js";

export interface TransportOptions {
  readonly endpoints: readonly string[];
  /** How long one call may take across all its attempts. */
  readonly requestTimeoutMs?: number;
  /** How long one member has to answer one attempt; above the server's 5 s wait for a leader. */
  readonly attemptTimeoutMs?: number;
  /** Log in as this user (etcdctl's --user and --password); every request then carries a token. */
  readonly credentials?: Credentials;
  /** For https:// endpoints: etcdctl's --cacert, --cert, --key and --insecure-skip-tls-verify. */
  readonly tls?: ClientTlsOptions;
}

export interface ClientTlsOptions {
  /** PEM of the CA that signs the members' certificates (else the system's CAs). */
  readonly ca?: string | Buffer;
  /** PEM of this client's certificate and key, for members with --client-cert-auth. */
  readonly cert?: string | Buffer;
  readonly key?: string | Buffer;
  /** Accept any certificate the members present (for trying TLS out only). */
  readonly insecureSkipVerify?: boolean;
}

/** Per call: a signal to give up early, a deadline of its own. */
export interface CallOptions {
  readonly signal?: AbortSignal;
  readonly timeoutMs?: number;
}

/**
 * How a call may be repeated: `read` freely; `write` with the same
 * Idempotency-Key on every attempt; `once` only if the request never left.
 */
export type RetryPolicy = "read" | "write" | "once";

export type HttpMethod = "GET" | "POST" | "PUT" | "DELETE";

export interface HttpCall {
  readonly method: HttpMethod;
  readonly path: string;
  readonly body?: string | Uint8Array;
  readonly retry: RetryPolicy;
  /** Ask this member only (status of one member, say): no failover. */
  readonly endpoint?: string;
  /** Send no token (the login itself). */
  readonly anonymous?: boolean;
}

export interface HttpReply {
  readonly endpoint: string;
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: Buffer;
}

/** An open response stream: its body, and the member serving it. */
export interface HttpStream {
  readonly endpoint: string;
  readonly body: AsyncIterable<Buffer>;
}

const DEFAULT_REQUEST_TIMEOUT_MS = 15_000;
const DEFAULT_ATTEMPT_TIMEOUT_MS = 7_000;
const ROUND_BACKOFF_MS = [50, 100, 200, 400, 800];
const NEVER = new AbortController().signal;

/** Errors meaning the request never reached the member: safe to send elsewhere whatever it was. */
const NOT_SENT = new Set(["ECONNREFUSED", "EHOSTUNREACH", "ENETUNREACH", "ENOTFOUND", "EAI_AGAIN", "UND_ERR_CONNECT_TIMEOUT"]);
/** Errors meaning the member went away after it may have read the request. */
const CUT_OFF = new Set(["ECONNRESET", "EPIPE", "UND_ERR_SOCKET", "UND_ERR_CLOSED", "UND_ERR_HEADERS_TIMEOUT", "UND_ERR_BODY_TIMEOUT"]);
/** The server's refusal of a duplicate while the first copy of the write is still in flight: wait and ask again. */
const IN_PROGRESS_MESSAGE = "raftkv: a request with this id is already in progress";

type Verdict =
  | { readonly failover: false }
  /** `sent`: the member may have acted on the request. */
  | { readonly failover: true; readonly reason: string; readonly sent: boolean };

export class Transport {
  readonly pool: EndpointPool;
  private readonly agent: Agent;
  private readonly requestTimeoutMs: number;
  private readonly attemptTimeoutMs: number;
  private readonly session: AuthSession | undefined;

  constructor(options: TransportOptions) {
    this.pool = new EndpointPool(options.endpoints);
    this.requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    this.attemptTimeoutMs = options.attemptTimeoutMs ?? DEFAULT_ATTEMPT_TIMEOUT_MS;
    this.agent = new Agent({ keepAliveTimeout: 30_000, connect: { timeout: 2_000, ...tlsConnectOptions(options.tls) } });
    const credentials = options.credentials;
    this.session = credentials ? new AuthSession(async () => this.authenticate(credentials)) : undefined;
  }

  /** Sends a request and reads its whole answer; a non-2xx answer is thrown as an EtcdError. */
  async call(call: HttpCall, options: CallOptions = {}): Promise<HttpReply> {
    return this.withToken(call, (headers) => this.callWith(call, headers, options));
  }

  private async callWith(call: HttpCall, headers: Record<string, string>, options: CallOptions): Promise<HttpReply> {
    return this.withFailover(call, options, async (endpoint, signal) => {
      const response = await this.send(endpoint, call, headers, { signal });
      const body = Buffer.from(await response.body.arrayBuffer());
      const reply = { endpoint, status: response.statusCode, headers: response.headers, body };
      if (reply.status >= 300) throw errorOfReply(reply);
      return reply;
    });
  }

  /**
   * Sends a request whose answer is a stream; resolves once a member
   * accepted it, with the body still to read. The body fails if it stays
   * silent for `idleTimeoutMs` (0: never).
   */
  async stream(call: HttpCall, signal: AbortSignal, idleTimeoutMs: number, options: CallOptions = {}): Promise<HttpStream> {
    return this.withToken(call, (headers) => this.streamWith(call, headers, signal, idleTimeoutMs, options));
  }

  private async streamWith(
    call: HttpCall,
    headers: Record<string, string>,
    signal: AbortSignal,
    idleTimeoutMs: number,
    options: CallOptions,
  ): Promise<HttpStream> {
    return this.withFailover(call, { ...options, signal }, async (endpoint) => {
      // The attempt's deadline covers the answer's start only: a stream lives as long as its reader wants.
      const response = await this.send(endpoint, call, headers, { signal, headersTimeout: this.attemptTimeoutMs, bodyTimeout: idleTimeoutMs });
      if (response.statusCode >= 300) {
        throw errorOfReply({ endpoint, status: response.statusCode, headers: response.headers, body: Buffer.from(await response.body.arrayBuffer()) });
      }
      return { endpoint, body: response.body as AsyncIterable<Buffer> };
    });
  }

  /**
   * Runs a request with the session's token, if there is a session. A token
   * the member calls invalid is replaced and the request sent once more, as
   * is a request refused because auth changed after it was checked: neither
   * was applied, and the second attempt keeps the first's Idempotency-Key.
   */
  private async withToken<T>(call: HttpCall, run: (headers: Record<string, string>) => Promise<T>): Promise<T> {
    const headers = headersFor(call);
    if (!this.session || call.anonymous) return run(headers);
    const token = await this.session.token();
    try {
      return await run({ ...headers, authorization: `Bearer ${token}` });
    } catch (error) {
      if (!(error instanceof EtcdError) || !RETRY_ONCE_MESSAGES.has(error.message)) throw error;
      if (error.message === INVALID_TOKEN_MESSAGE) this.session.forget(token);
      return run({ ...headers, authorization: `Bearer ${await this.session.token()}` });
    }
  }

  private async authenticate({ user, password }: Credentials): Promise<string> {
    const body = JSON.stringify({ name: user, password });
    const reply = await this.call({ method: "POST", path: "/v3/auth/authenticate", body, retry: "read", anonymous: true });
    const { token } = JSON.parse(reply.body.toString("utf8")) as { token?: unknown };
    if (typeof token !== "string") throw new Error(`${reply.endpoint} answered an authentication without a token`);
    return token;
  }

  /** Records that a member failed outside a call (a stream that broke), so the next call avoids it. */
  reportFailure(endpoint: string): void {
    this.pool.failed(endpoint, Date.now());
  }

  async close(): Promise<void> {
    await this.agent.close();
  }

  private async send(
    endpoint: string,
    call: HttpCall,
    headers: Record<string, string>,
    extra: { signal: AbortSignal; headersTimeout?: number; bodyTimeout?: number },
  ): Promise<Dispatcher.ResponseData> {
    return undiciRequest(`${endpoint}${call.path}`, {
      method: call.method,
      headers,
      body: call.body === undefined ? undefined : typeof call.body === "string" ? call.body : Buffer.from(call.body),
      dispatcher: this.agent,
      ...extra,
    });
  }

  /**
   * Runs `attempt` on one member after another until one succeeds, a member
   * refuses for a reason of its own, or the deadline passes. Each full round
   * over the members waits a little longer before the next.
   */
  private async withFailover<T>(call: HttpCall, options: CallOptions, attempt: (endpoint: string, signal: AbortSignal) => Promise<T>): Promise<T> {
    const timeoutMs = options.timeoutMs ?? this.requestTimeoutMs;
    const deadline = Date.now() + timeoutMs;
    const failures = new Map<string, string>();
    for (let round = 0; ; round++) {
      for (const endpoint of call.endpoint === undefined ? this.pool.order(Date.now()) : [normalizeUrl(call.endpoint)]) {
        options.signal?.throwIfAborted();
        const remaining = deadline - Date.now();
        if (remaining <= 0) throw new NoEndpointAvailableError(listFailures(failures), timeoutMs);
        const timeout = AbortSignal.timeout(Math.min(this.attemptTimeoutMs, remaining));
        const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
        try {
          const result = await attempt(endpoint, signal);
          this.pool.succeeded(endpoint);
          return result;
        } catch (error) {
          options.signal?.throwIfAborted();
          const verdict = timeout.aborted ? timedOut(this.attemptTimeoutMs) : judge(error);
          if (!verdict.failover) throw error;
          failures.set(endpoint, verdict.reason);
          this.pool.failed(endpoint, Date.now());
          if (verdict.sent && call.retry === "once") throw new OutcomeUnknownError(endpoint, verdict.reason);
        }
      }
      const backoff = ROUND_BACKOFF_MS[Math.min(round, ROUND_BACKOFF_MS.length - 1)] as number;
      await pauseUnlessAborted(Math.max(0, Math.min(backoff, deadline - Date.now())), options.signal ?? NEVER);
    }
  }
}

const INVALID_TOKEN_MESSAGE = "etcdserver: invalid auth token";
const RETRY_ONCE_MESSAGES = new Set([INVALID_TOKEN_MESSAGE, "etcdserver: revision of auth store is old"]);

function tlsConnectOptions(tls: ClientTlsOptions | undefined): Record<string, unknown> {
  if (!tls) return {};
  return {
    ...(tls.ca !== undefined ? { ca: tls.ca } : {}),
    ...(tls.cert !== undefined ? { cert: tls.cert } : {}),
    ...(tls.key !== undefined ? { key: tls.key } : {}),
    rejectUnauthorized: !tls.insecureSkipVerify,
  };
}

function headersFor(call: HttpCall): Record<string, string> {
  const headers: Record<string, string> = {};
  if (call.body !== undefined) headers["content-type"] = typeof call.body === "string" ? "application/json" : "application/octet-stream";
  // One key for every attempt of this write: a member that already applied it answers with the first outcome.
  if (call.retry === "write") headers["idempotency-key"] = randomUUID();
  return headers;
}

/** Whether another member should be asked, and whether this one may have acted. */
function judge(error: unknown): Verdict {
  if (error instanceof EtcdError) {
    if (error.code === GrpcCode.Unavailable || error.httpStatus === 502 || error.httpStatus === 504) {
      return { failover: true, reason: error.message, sent: true };
    }
    if (error.message === IN_PROGRESS_MESSAGE) return { failover: true, reason: error.message, sent: true };
    return { failover: false };
  }
  const code = errorCode(error);
  if (code !== undefined && NOT_SENT.has(code)) return { failover: true, reason: describe(error), sent: false };
  if (code !== undefined && CUT_OFF.has(code)) return { failover: true, reason: describe(error), sent: true };
  return { failover: false };
}

function timedOut(attemptTimeoutMs: number): Verdict {
  return { failover: true, reason: `no answer within ${attemptTimeoutMs} ms`, sent: true };
}

function errorCode(error: unknown): string | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  const { code, cause } = error as { code?: unknown; cause?: unknown };
  if (typeof code === "string") return code;
  return cause === undefined ? undefined : errorCode(cause);
}

export function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = errorCode(error);
  return code && !error.message.includes(code) ? `${code}: ${error.message}` : error.message;
}

function listFailures(failures: ReadonlyMap<string, string>): { endpoint: string; reason: string }[] {
  return [...failures].map(([endpoint, reason]) => ({ endpoint, reason }));
}

/** An error answer: etcd's `{error, code, message}` body when there is one, the status line otherwise. */
function errorOfReply(reply: HttpReply): EtcdError {
  const fallbackCode = reply.status === 503 ? GrpcCode.Unavailable : GrpcCode.Unknown;
  try {
    const parsed = JSON.parse(reply.body.toString("utf8")) as { message?: unknown; error?: unknown; reason?: unknown; code?: unknown };
    // etcd's errors say `message` (and `error`); the health check says `reason`.
    const message = [parsed.message, parsed.error, parsed.reason].find((text): text is string => typeof text === "string" && text !== "");
    if (message !== undefined) return new EtcdError(message, typeof parsed.code === "number" ? parsed.code : fallbackCode, reply.status, reply.endpoint);
  } catch {
    // Not JSON (a proxy's error page, say): the status says what happened.
  }
  return new EtcdError(`HTTP ${reply.status}: ${reply.body.toString("utf8").slice(0, 200)}`, fallbackCode, reply.status, reply.endpoint);
}
