/**
 * The member's public HTTP APIs, as the page uses them: the etcd v3 gateway
 * (/v3/…), the native API (/v1/…), /metrics and /health, all on the origin
 * that served the page. Members do not answer cross-origin requests (no
 * CORS), so the page shows what this member knows.
 *
 * Auth: every request goes through `send`, which adds the session's token
 * (set by the login form in the header), and a 401 logs the session out.
 * The pages show what the user may read; the API refuses the rest with
 * its own errors, which the pages show.
 */
import { fromBase64, prefixEnd, toBase64 } from "./bytes.js";
import type { Kv, RangeOptions, RangeReply } from "./kv.js";

export type { Kv, RangeOptions, RangeReply };

export interface Session {
  headers(): Record<string, string>;
  onUnauthenticated(): void;
}

const TOKEN_KEY = "raftkv-token";

/** The token of the user logged in on this tab (sessionStorage: gone with the tab), sent as etcd's gateway takes it. */
export const session: Session & { readonly user: string | undefined; logIn(user: string, password: string): Promise<void>; logOut(): void } = {
  headers: (): Record<string, string> => {
    const token = sessionStorage.getItem(TOKEN_KEY);
    return token ? { authorization: `Bearer ${token}` } : {};
  },
  // A token the member no longer accepts (auth turned off and on, password changed, member restarted): log in again.
  onUnauthenticated: () => session.logOut(),
  get user() {
    return sessionStorage.getItem(`${TOKEN_KEY}-user`) ?? undefined;
  },
  async logIn(user, password) {
    const { token } = await v3<{ token: string }>("auth/authenticate", { name: user, password });
    sessionStorage.setItem(TOKEN_KEY, token);
    sessionStorage.setItem(`${TOKEN_KEY}-user`, user);
  },
  logOut() {
    sessionStorage.removeItem(TOKEN_KEY);
    sessionStorage.removeItem(`${TOKEN_KEY}-user`);
  },
};

/** An error the member answered with: etcd's message, or the HTTP status and body. */
export class ApiError extends Error {}

/** Every request of the page; `answers` are statuses besides 2xx that carry an answer rather than a failure. */
async function send(path: string, init: RequestInit = {}, answers: readonly number[] = []): Promise<Response> {
  const response = await fetch(path, { ...init, headers: { ...session.headers(), ...(init.headers as Record<string, string>) } });
  if (response.status === 401) session.onUnauthenticated();
  if (!response.ok && !answers.includes(response.status)) throw await errorOf(response);
  return response;
}

async function errorOf(response: Response): Promise<ApiError> {
  const text = await response.text();
  try {
    const body = JSON.parse(text) as { message?: string; error?: string };
    return new ApiError(body.message ?? body.error ?? text);
  } catch {
    return new ApiError(text || `HTTP ${response.status}`);
  }
}

/** POSTs to the etcd v3 gateway. */
export async function v3<T>(path: string, body: object = {}): Promise<T> {
  const response = await send(`/v3/${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  return (await response.json()) as T;
}

export async function text(path: string): Promise<string> {
  return (await send(path)).text();
}

/** /health answers 503 with a reason when the member cannot serve: that is an answer, not a failure. */
export async function health(): Promise<{ healthy: boolean; reason: string }> {
  const response = await send("/health", {}, [503]);
  const body = (await response.json()) as { health?: string; reason?: string };
  return { healthy: body.health === "true", reason: body.reason ?? "" };
}

/**
 * The native watch stream (Server-Sent Events, resumed by the browser after
 * a drop). An EventSource sends no custom headers, so with auth on this
 * watch is refused ("user name is empty") until it moves to a fetch stream.
 */
export function watchEvents(key: Uint8Array, prefix: boolean): EventSource {
  const path = Array.from(key, (byte) => `%${byte.toString(16).padStart(2, "0")}`).join("");
  return new EventSource(`/v1/watch/${path}?encoding=base64&prev_kv${prefix ? "&prefix" : ""}`);
}

// ---------------------------------------------------------------------------
// The gateway's JSON: int64 fields are strings and zero values are left out.

export interface Header {
  readonly cluster_id?: string;
  readonly member_id?: string;
  readonly revision?: string;
  readonly raft_term?: string;
}

interface RawKv {
  readonly key?: string;
  readonly value?: string;
  readonly create_revision?: string;
  readonly mod_revision?: string;
  readonly version?: string;
  readonly lease?: string;
}

function kvOf(raw: RawKv): Kv {
  return {
    key: fromBase64(raw.key),
    value: fromBase64(raw.value),
    createRevision: Number(raw.create_revision ?? 0),
    modRevision: Number(raw.mod_revision ?? 0),
    version: Number(raw.version ?? 0),
    lease: raw.lease ?? "0",
  };
}

export const leaseHex = (lease: string): string => BigInt(lease).toString(16);

export async function range(key: Uint8Array, options: RangeOptions = {}): Promise<RangeReply> {
  const reply = await v3<{ header: Header; kvs?: RawKv[]; more?: boolean; count?: string }>("kv/range", {
    key: toBase64(key),
    range_end: options.rangeEnd && toBase64(options.rangeEnd),
    limit: options.limit,
    keys_only: options.keysOnly,
    revision: options.revision,
  });
  return { revision: Number(reply.header.revision ?? 0), kvs: (reply.kvs ?? []).map(kvOf), more: reply.more ?? false, count: Number(reply.count ?? 0) };
}

export async function get(key: Uint8Array, revision?: number): Promise<Kv | undefined> {
  return (await range(key, { revision })).kvs[0];
}

export const prefixRange = (prefix: Uint8Array, options: Omit<RangeOptions, "rangeEnd"> = {}): Promise<RangeReply> =>
  range(prefix, { ...options, rangeEnd: prefixEnd(prefix) });

/** The outcome of a guarded write: done at `revision`, or refused because the key is not as expected. */
export type Guarded = { readonly ok: true; readonly revision: number } | { readonly ok: false; readonly current: Kv | undefined };

/**
 * One txn: if `key`'s mod revision is still `modRevision` (0: the key does
 * not exist), do `write`; otherwise read the key back to show what changed.
 */
async function guarded(key: Uint8Array, modRevision: number, write: object): Promise<Guarded> {
  const encodedKey = toBase64(key);
  const reply = await v3<{ header: Header; succeeded?: boolean; responses?: { response_range?: { kvs?: RawKv[] } }[] }>("kv/txn", {
    compare: [{ key: encodedKey, target: "MOD", result: "EQUAL", mod_revision: modRevision }],
    success: [write],
    failure: [{ request_range: { key: encodedKey } }],
  });
  if (reply.succeeded) return { ok: true, revision: Number(reply.header.revision ?? 0) };
  const current = reply.responses?.[0]?.response_range?.kvs?.[0];
  return { ok: false, current: current && kvOf(current) };
}

export const putIfModRevision = (key: Uint8Array, value: Uint8Array, modRevision: number, lease = "0"): Promise<Guarded> =>
  guarded(key, modRevision, { request_put: { key: toBase64(key), value: toBase64(value), lease } });

export const deleteIfModRevision = (key: Uint8Array, modRevision: number): Promise<Guarded> =>
  guarded(key, modRevision, { request_delete_range: { key: toBase64(key) } });

export async function leaseTtl(lease: string): Promise<{ ttl: number; grantedTtl: number }> {
  const reply = await v3<{ TTL?: string; grantedTTL?: string }>("lease/timetolive", { ID: lease });
  return { ttl: Number(reply.TTL ?? -1), grantedTtl: Number(reply.grantedTTL ?? 0) };
}

// ---------------------------------------------------------------------------
// Cluster

export interface Member {
  readonly id: string;
  readonly name: string;
  readonly peerUrls: readonly string[];
  readonly clientUrls: readonly string[];
  readonly isLearner: boolean;
}

export async function members(): Promise<Member[]> {
  const reply = await v3<{ members?: { ID?: string; name?: string; peerURLs?: string[]; clientURLs?: string[]; isLearner?: boolean }[] }>(
    "cluster/member/list",
  );
  return (reply.members ?? []).map((member) => ({
    id: member.ID ?? "0",
    name: member.name ?? "",
    peerUrls: member.peerURLs ?? [],
    clientUrls: member.clientURLs ?? [],
    isLearner: member.isLearner ?? false,
  }));
}

export interface Status {
  readonly memberId: string;
  readonly leader: string;
  readonly term: number;
  readonly committedIndex: number;
  readonly appliedIndex: number;
  readonly dbSize: number;
  readonly revision: number;
  readonly errors: readonly string[];
}

export async function status(): Promise<Status> {
  const reply = await v3<{
    header: Header;
    leader?: string;
    raftTerm?: string;
    raftIndex?: string;
    raftAppliedIndex?: string;
    dbSize?: string;
    errors?: string[];
  }>("maintenance/status");
  return {
    memberId: reply.header.member_id ?? "0",
    leader: reply.leader ?? "0",
    term: Number(reply.raftTerm ?? 0),
    committedIndex: Number(reply.raftIndex ?? 0),
    appliedIndex: Number(reply.raftAppliedIndex ?? 0),
    dbSize: Number(reply.dbSize ?? 0),
    revision: Number(reply.header.revision ?? 0),
    errors: reply.errors ?? [],
  };
}

export interface Alarm {
  readonly memberId: string;
  readonly alarm: string;
}

export async function alarms(): Promise<Alarm[]> {
  const reply = await v3<{ alarms?: { memberID?: string; alarm?: string }[] }>("maintenance/alarm", { action: "GET" });
  return (reply.alarms ?? []).map((alarm) => ({ memberId: alarm.memberID ?? "0", alarm: alarm.alarm ?? "NONE" }));
}
