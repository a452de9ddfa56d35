/**
 * raftkv's native /v1 key-value API: the key in the URL, the raw value as
 * the body, compare-and-set on a key's mod revision (`prevRevision`; 0:
 * only if absent). Writes carry an Idempotency-Key like every write of the
 * client. The etcd API (`client.kv`) can do all of this and more; this is
 * for code that shares keys with curl users of /v1.
 */
import { fromBase64, toBuffer, type Bytes } from "./bytes.js";
import { EtcdError, GrpcCode } from "./errors.js";
import type { NativeDeleteReply, NativeKv, NativeKvList, NativePutReply } from "./shared-types.js";
import type { CallOptions, HttpCall, HttpReply, Transport } from "./transport.js";
import { parseJson, type KeyValue } from "./wire.js";

export interface NativeListOptions {
  readonly revision?: number;
  readonly limit?: number;
  readonly keysOnly?: boolean;
  readonly serializable?: boolean;
}

export interface NativeList {
  readonly revision: number;
  readonly count: number;
  readonly more: boolean;
  readonly kvs: readonly KeyValue[];
}

export interface NativeWriteOptions {
  /** Write only if the key's mod revision is this (0: only if the key does not exist); else an EtcdError (HTTP 412). */
  readonly prevRevision?: number;
}

export class NativeClient {
  constructor(private readonly transport: Transport) {}

  /** One key, or undefined if it does not exist. */
  async get(key: string, options: CallOptions & { serializable?: boolean } = {}): Promise<KeyValue | undefined> {
    const query = options.serializable ? "?consistency=serializable" : "";
    let reply: HttpReply;
    try {
      reply = await this.transport.call({ method: "GET", path: `${kvPath(key)}${query}`, retry: "read" }, options);
    } catch (error) {
      if (error instanceof EtcdError && error.code === GrpcCode.NotFound) return undefined;
      throw error;
    }
    const header = (name: string): number => Number(reply.headers[`x-raftkv-${name}`] ?? 0);
    const revisions = { createRevision: header("create-revision"), modRevision: header("mod-revision"), version: header("version"), lease: header("lease") };
    return { key: toBuffer(key), value: reply.body, ...revisions };
  }

  /** Every key with this prefix. */
  async list(prefix: string, options: NativeListOptions & CallOptions = {}): Promise<NativeList> {
    const query = new URLSearchParams({ prefix: "true", encoding: "base64" });
    if (options.revision) query.set("revision", String(options.revision));
    if (options.limit) query.set("limit", String(options.limit));
    if (options.keysOnly) query.set("keys_only", "true");
    if (options.serializable) query.set("consistency", "serializable");
    const reply = await this.transport.call({ method: "GET", path: `${kvPath(prefix)}?${query}`, retry: "read" }, options);
    const listing = parseJson<NativeKvList>(reply.body);
    return { revision: listing.revision, count: listing.count, more: listing.more, kvs: listing.kvs.map(decodeNativeKv) };
  }

  async put(key: string, value: Bytes, options: NativeWriteOptions & CallOptions & { lease?: number } = {}): Promise<NativePutReply> {
    const query = writeQuery(options.prevRevision, options.lease ? { lease: String(options.lease) } : {});
    return this.write({ method: "PUT", path: `${kvPath(key)}${query}`, body: toBuffer(value), retry: "write" }, options);
  }

  async delete(key: string, options: NativeWriteOptions & CallOptions & { prefix?: boolean } = {}): Promise<NativeDeleteReply> {
    const query = writeQuery(options.prevRevision, options.prefix ? { prefix: "true" } : {});
    return this.write({ method: "DELETE", path: `${kvPath(key)}${query}`, retry: "write" }, options);
  }

  private async write<T>(call: HttpCall, options: CallOptions): Promise<T> {
    return parseJson<T>((await this.transport.call(call, options)).body);
  }
}

/** The URL path of a key: each segment escaped, the slashes kept. */
function kvPath(key: string): string {
  return `/v1/kv/${key.split("/").map(encodeURIComponent).join("/")}`;
}

function writeQuery(prevRevision: number | undefined, fields: Record<string, string>): string {
  const query = new URLSearchParams(fields);
  if (prevRevision !== undefined) query.set("prev_revision", String(prevRevision));
  const text = query.toString();
  return text === "" ? "" : `?${text}`;
}

function decodeNativeKv(kv: NativeKv): KeyValue {
  return {
    key: fromBase64(kv.key),
    value: fromBase64(kv.value),
    createRevision: kv.create_revision,
    modRevision: kv.mod_revision,
    version: kv.version,
    lease: kv.lease,
  };
}
