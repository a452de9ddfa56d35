/**
 * The store's API as the workloads use it, one interface over three wires:
 * raftkv's native API for single keys with the etcd gateway for the rest
 * (`nativeApi`), the etcd v3 gateway alone (`gatewayApi`, which etcd serves
 * too), and etcd's gRPC API (`GrpcApi` in grpc-store.ts). The operations mean
 * the same on every wire, so a workload records the same history whichever
 * carries it.
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

/** A change a watch reported: the revision it made, the key and the value (empty for a delete). */
export interface WatchedEvent {
  readonly revision: number;
  readonly key: string;
  readonly value: string;
}

export interface StoreApi {
  /** A key's value, or undefined when there is no such key; linearizable. */
  get(url: string, key: string, timeoutMs: number): Promise<string | undefined>;
  /** Puts a value and returns the revision of the write. */
  put(url: string, key: string, value: string, timeoutMs: number): Promise<number>;
  /** Every key under `prefix`, in key order; linearizable. */
  rangePrefix(url: string, prefix: string, timeoutMs: number): Promise<StoredKv[]>;
  /** Puts every entry of `puts` if every compare holds, atomically. */
  putIf(url: string, compares: readonly Compare[], puts: Readonly<Record<string, string>>, timeoutMs: number): Promise<TxnResult>;
  /**
   * Watches `prefix` from `fromRevision`, handing each message's events to
   * `onMessage` (an empty list for a message without events, so a caller can
   * tell a live stream from a stalled one); settles when the stream ends or
   * `signal` aborts.
   */
  watch(url: string, prefix: string, fromRevision: number, signal: AbortSignal, onMessage: (events: readonly WatchedEvent[]) => void): Promise<void>;
  /** Closes what the API keeps open (connections). */
  close(): void;
}

interface EtcdKv {
  readonly key: string;
  readonly value?: string;
  readonly mod_revision: string;
  readonly create_revision: string;
}

interface EtcdWatchLine {
  readonly result?: { readonly events?: readonly { readonly kv: EtcdKv }[] };
}

/** The etcd v3 gateway: keys and values in base64, int64s as strings. */
export const gatewayApi: StoreApi = {
  async get(url, key, timeoutMs) {
    const reply = await postJson<{ kvs?: EtcdKv[] }>(url, "/v3/kv/range", { key: b64(key) }, timeoutMs);
    const kv = reply.kvs?.[0];
    return kv === undefined ? undefined : unb64(kv.value ?? "");
  },

  async put(url, key, value, timeoutMs) {
    const reply = await postJson<{ header: { revision: string } }>(url, "/v3/kv/put", { key: b64(key), value: b64(value) }, timeoutMs);
    return Number(reply.header.revision);
  },

  async rangePrefix(url, prefix, timeoutMs) {
    const reply = await postJson<{ kvs?: EtcdKv[] }>(url, "/v3/kv/range", { key: b64(prefix), range_end: b64(prefixEnd(prefix)) }, timeoutMs);
    return (reply.kvs ?? []).map((kv) => ({
      key: unb64(kv.key),
      value: unb64(kv.value ?? ""),
      modRevision: Number(kv.mod_revision),
      createRevision: Number(kv.create_revision),
    }));
  },

  async putIf(url, compares, puts, timeoutMs) {
    const body = txnRequest(compares, puts, b64, String);
    const reply = await postJson<{ succeeded?: boolean; header: { revision: string } }>(url, "/v3/kv/txn", body, timeoutMs);
    return { succeeded: reply.succeeded === true, revision: Number(reply.header.revision) };
  },

  async watch(url, prefix, fromRevision, signal, onMessage) {
    const body = { create_request: { key: b64(prefix), range_end: b64(prefixEnd(prefix)), start_revision: fromRevision } };
    const response = await send(`${url}/v3/watch`, { method: "POST", body: JSON.stringify(body), signal }, 0);
    for await (const line of lines(response)) {
      const events = (JSON.parse(line) as EtcdWatchLine).result?.events ?? [];
      onMessage(events.map(({ kv }) => ({ revision: Number(kv.mod_revision), key: unb64(kv.key), value: unb64(kv.value ?? "") })));
    }
  },

  close() {},
};

/** raftkv's native API for single keys (raw values), the gateway for ranges, transactions and watches. */
export const nativeApi: StoreApi = {
  ...gatewayApi,

  async get(url, key, timeoutMs) {
    const response = await send(`${url}/v1/kv/${key}`, { method: "GET" }, timeoutMs);
    const body = await textOf(response, [200, 404]);
    return response.status === 404 ? undefined : body;
  },

  async put(url, key, value, timeoutMs) {
    const response = await send(`${url}/v1/kv/${key}`, { method: "PUT", body: value }, timeoutMs);
    return (JSON.parse(await textOf(response)) as { revision: number }).revision;
  },
};

/**
 * etcd's TxnRequest for `putIf`, with bytes and int64s encoded as the wire
 * wants them (base64 and strings in JSON, buffers and numbers in protobuf).
 */
export function txnRequest<Bytes, Int64>(
  compares: readonly Compare[],
  puts: Readonly<Record<string, string>>,
  bytes: (text: string) => Bytes,
  int64: (value: number) => Int64,
): object {
  const compare = compares.map((c) => {
    const common = { key: bytes(c.key), target: c.target, result: "EQUAL" };
    if (c.target === "VALUE") return { ...common, value: bytes(c.value) };
    return { ...common, [c.target === "MOD" ? "mod_revision" : "create_revision"]: int64(c.revision) };
  });
  const success = Object.entries(puts).map(([key, value]) => ({ request_put: { key: bytes(key), value: bytes(value) } }));
  return { compare, success };
}

async function* lines(response: Response): AsyncGenerator<string> {
  if (response.body === null) return;
  const decoder = new TextDecoder();
  let buffered = "";
  for await (const chunk of response.body) {
    buffered += decoder.decode(chunk as Uint8Array, { stream: true });
    const parts = buffered.split("\n");
    buffered = parts.pop() ?? "";
    yield* parts.filter((part) => part.trim() !== "");
  }
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
