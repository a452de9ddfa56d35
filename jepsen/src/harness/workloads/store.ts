/**
 * The store's API as the workloads use it: raw values on the native API,
 * ranges and transactions on the etcd gateway (keys and values in base64).
 */
import { b64, postJson, send, textOf, unb64 } from "../http.js";
import { delay } from "../wait.js";

export interface StoredKv {
  readonly key: string;
  readonly value: string;
  readonly modRevision: number;
  readonly createRevision: number;
}

/** A compare of an etcd txn, on a key's value or one of its revisions. */
export type Compare =
  | { readonly key: string; readonly target: "VALUE"; readonly value: string }
  | { readonly key: string; readonly target: "MOD" | "CREATE"; readonly revision: number };

export interface TxnResult {
  readonly succeeded: boolean;
  readonly revision: number;
}

interface EtcdKv {
  readonly key: string;
  readonly value?: string;
  readonly mod_revision: string;
  readonly create_revision: string;
}

/** A key's value, or undefined when there is no such key; linearizable. */
export async function getValue(url: string, key: string, timeoutMs: number): Promise<string | undefined> {
  const response = await send(`${url}/v1/kv/${key}`, { method: "GET" }, timeoutMs);
  const body = await textOf(response, [200, 404]);
  return response.status === 404 ? undefined : body;
}

/** Puts a value and returns the revision of the write. */
export async function putValue(url: string, key: string, value: string, timeoutMs: number): Promise<number> {
  const response = await send(`${url}/v1/kv/${key}`, { method: "PUT", body: value }, timeoutMs);
  return (JSON.parse(await textOf(response)) as { revision: number }).revision;
}

/** A key's value through the etcd gateway (a linearizable range), or undefined when there is no such key. */
export async function rangeValue(url: string, key: string, timeoutMs: number): Promise<string | undefined> {
  const reply = await postJson<{ kvs?: EtcdKv[] }>(url, "/v3/kv/range", { key: b64(key) }, timeoutMs);
  const kv = reply.kvs?.[0];
  return kv === undefined ? undefined : unb64(kv.value ?? "");
}

/** Puts a value through the etcd gateway. */
export async function putGateway(url: string, key: string, value: string, timeoutMs: number): Promise<void> {
  await postJson(url, "/v3/kv/put", { key: b64(key), value: b64(value) }, timeoutMs);
}

/** Every key under `prefix`, in key order; linearizable. */
export async function rangePrefix(url: string, prefix: string, timeoutMs: number): Promise<StoredKv[]> {
  const reply = await postJson<{ kvs?: EtcdKv[] }>(url, "/v3/kv/range", { key: b64(prefix), range_end: b64(prefixEnd(prefix)) }, timeoutMs);
  return (reply.kvs ?? []).map((kv) => ({
    key: unb64(kv.key),
    value: unb64(kv.value ?? ""),
    modRevision: Number(kv.mod_revision),
    createRevision: Number(kv.create_revision),
  }));
}

/** Puts every entry of `puts` if every compare holds, atomically. */
export async function putIf(url: string, compares: readonly Compare[], puts: Readonly<Record<string, string>>, timeoutMs: number): Promise<TxnResult> {
  const body = {
    compare: compares.map(compareJson),
    success: Object.entries(puts).map(([key, value]) => ({ request_put: { key: b64(key), value: b64(value) } })),
  };
  const reply = await postJson<{ succeeded?: boolean; header: { revision: string } }>(url, "/v3/kv/txn", body, timeoutMs);
  return { succeeded: reply.succeeded === true, revision: Number(reply.header.revision) };
}

function compareJson(compare: Compare): Record<string, string> {
  const common = { key: b64(compare.key), target: compare.target, result: "EQUAL" };
  if (compare.target === "VALUE") return { ...common, value: b64(compare.value) };
  return { ...common, [compare.target === "MOD" ? "mod_revision" : "create_revision"]: String(compare.revision) };
}

/** The first key after every key that starts with `prefix` (prefixes here are ASCII). */
export function prefixEnd(prefix: string): string {
  return prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
}

/**
 * Repeats `attempt` on one member after another until one succeeds, for the
 * setup and final reads, which must happen for the run to mean anything.
 */
export async function onAnyMember<T>(urls: readonly string[], deadlineMs: number, attempt: (url: string) => Promise<T>): Promise<T> {
  const deadline = Date.now() + deadlineMs;
  let lastError: unknown;
  for (let i = 0; Date.now() < deadline; i++) {
    try {
      return await attempt(urls[i % urls.length]!);
    } catch (error) {
      lastError = error;
      await delay(100);
    }
  }
  throw new Error(`no member answered within ${deadlineMs} ms: ${lastError instanceof Error ? lastError.message : String(lastError)}`);
}
