/**
 * Keys and values through the etcd v3 gateway: get (one key, a prefix or a
 * range, at a revision, sorted, limited, keys or count only), put, delete,
 * txn and compaction. Reads retry on any member; writes retry with one
 * Idempotency-Key, so each applies at most once.
 */
import { type Bytes, prefixEnd, toBase64, toNumber } from "./bytes.js";
import type { CallOptions, Transport } from "./transport.js";
import { decodeHeader, decodeKeyValue, parseJson, type Int64, type KeyValue, type ResponseHeader, type WireHeader, type WireKeyValue } from "./wire.js";

export type SortTarget = "KEY" | "VERSION" | "CREATE" | "MOD" | "VALUE";
export type SortOrder = "NONE" | "ASCEND" | "DESCEND";
export type CompareResult = "EQUAL" | "GREATER" | "LESS" | "NOT_EQUAL";

/** Which keys an operation covers, beyond `key` alone: every key with `key` as prefix, every key from `key` on, or [key, rangeEnd). */
export interface RangeSelection {
  readonly prefix?: boolean;
  readonly fromKey?: boolean;
  readonly rangeEnd?: Bytes;
}

export interface GetOptions extends RangeSelection {
  /** Read the store as it was at this revision (0: now). */
  readonly revision?: number;
  readonly limit?: number;
  readonly keysOnly?: boolean;
  readonly countOnly?: boolean;
  readonly sort?: { readonly target?: SortTarget; readonly order?: SortOrder };
  /** Served by the member asked without a quorum round: faster, maybe stale. */
  readonly serializable?: boolean;
  readonly minModRevision?: number;
  readonly maxModRevision?: number;
  readonly minCreateRevision?: number;
  readonly maxCreateRevision?: number;
}

export interface GetResult {
  readonly header: ResponseHeader;
  readonly kvs: readonly KeyValue[];
  /** More keys matched than `limit` let through. */
  readonly more: boolean;
  readonly count: number;
}

export interface PutOptions {
  readonly lease?: number;
  readonly prevKv?: boolean;
  readonly ignoreValue?: boolean;
  readonly ignoreLease?: boolean;
}

export interface PutResult {
  readonly header: ResponseHeader;
  readonly prevKv: KeyValue | undefined;
}

export interface DeleteOptions extends RangeSelection {
  readonly prevKv?: boolean;
}

export interface DeleteResult {
  readonly header: ResponseHeader;
  readonly deleted: number;
  readonly prevKvs: readonly KeyValue[];
}

interface CompareOn extends RangeSelection {
  readonly key: Bytes;
  readonly result: CompareResult;
}

/** One condition of a txn: a key's value, version, create or mod revision, or lease, compared with an operand. */
export type Compare = CompareOn &
  (
    | { readonly target: "VALUE"; readonly value: Bytes }
    | { readonly target: "VERSION"; readonly version: number }
    | { readonly target: "CREATE"; readonly createRevision: number }
    | { readonly target: "MOD"; readonly modRevision: number }
    | { readonly target: "LEASE"; readonly lease: number }
  );

export type TxnOp =
  | { readonly get: { readonly key: Bytes } & GetOptions }
  | { readonly put: { readonly key: Bytes; readonly value: Bytes } & PutOptions }
  | { readonly delete: { readonly key: Bytes } & DeleteOptions }
  | { readonly txn: Txn };

export interface Txn {
  readonly compare?: readonly Compare[];
  readonly success?: readonly TxnOp[];
  readonly failure?: readonly TxnOp[];
}

export type TxnOpResult = { readonly get: GetResult } | { readonly put: PutResult } | { readonly delete: DeleteResult } | { readonly txn: TxnResult };

export interface TxnResult {
  readonly header: ResponseHeader;
  readonly succeeded: boolean;
  readonly responses: readonly TxnOpResult[];
}

export class KvClient {
  constructor(private readonly transport: Transport) {}

  async get(key: Bytes, options: GetOptions & CallOptions = {}): Promise<GetResult> {
    return decodeGet(await this.post("/v3/kv/range", encodeGet(key, options), "read", options));
  }

  /** One key's current key-value, or undefined if it does not exist. */
  async getOne(key: Bytes, options: CallOptions = {}): Promise<KeyValue | undefined> {
    return (await this.get(key, options)).kvs[0];
  }

  async put(key: Bytes, value: Bytes, options: PutOptions & CallOptions = {}): Promise<PutResult> {
    return decodePut(await this.post("/v3/kv/put", encodePut(key, value, options), "write", options));
  }

  async delete(key: Bytes, options: DeleteOptions & CallOptions = {}): Promise<DeleteResult> {
    return decodeDelete(await this.post("/v3/kv/deleterange", encodeDelete(key, options), "write", options));
  }

  async txn(txn: Txn, options: CallOptions = {}): Promise<TxnResult> {
    return decodeTxn(await this.post("/v3/kv/txn", encodeTxn(txn), "write", options));
  }

  /** Drops history before `revision`: watches and reads at older revisions fail from then on. */
  async compact(revision: number, options: CallOptions & { physical?: boolean } = {}): Promise<ResponseHeader> {
    const reply = await this.post("/v3/kv/compaction", { revision: String(revision), physical: options.physical ?? false }, "write", options);
    return decodeHeader(reply.header);
  }

  private async post(path: string, body: object, retry: "read" | "write", options: CallOptions): Promise<WireReply> {
    return parseJson<WireReply>((await this.transport.call({ method: "POST", path, body: JSON.stringify(body), retry }, options)).body);
  }
}

// ---------------------------------------------------------------------------
// Encoding requests

/** The `key` and `range_end` fields for a key and a selection. */
export function encodeRange(key: Bytes, selection: RangeSelection): { key: string; range_end?: string } {
  const rangeEnd = selection.prefix ? prefixEnd(key) : selection.fromKey ? Buffer.from([0]) : selection.rangeEnd;
  return rangeEnd === undefined ? { key: toBase64(key) } : { key: toBase64(key), range_end: toBase64(rangeEnd) };
}

function encodeGet(key: Bytes, options: GetOptions): object {
  return {
    ...encodeRange(key, options),
    revision: options.revision,
    limit: options.limit,
    keys_only: options.keysOnly,
    count_only: options.countOnly,
    sort_target: options.sort?.target,
    sort_order: options.sort?.order,
    serializable: options.serializable,
    min_mod_revision: options.minModRevision,
    max_mod_revision: options.maxModRevision,
    min_create_revision: options.minCreateRevision,
    max_create_revision: options.maxCreateRevision,
  };
}

function encodePut(key: Bytes, value: Bytes, options: PutOptions): object {
  return {
    key: toBase64(key),
    value: toBase64(value),
    lease: options.lease,
    prev_kv: options.prevKv,
    ignore_value: options.ignoreValue,
    ignore_lease: options.ignoreLease,
  };
}

function encodeDelete(key: Bytes, options: DeleteOptions): object {
  return { ...encodeRange(key, options), prev_kv: options.prevKv };
}

function encodeTxn(txn: Txn): object {
  return {
    compare: (txn.compare ?? []).map(encodeCompare),
    success: (txn.success ?? []).map(encodeOp),
    failure: (txn.failure ?? []).map(encodeOp),
  };
}

function encodeCompare(compare: Compare): object {
  const range = encodeRange(compare.key, compare);
  const common = { ...range, result: compare.result, target: compare.target };
  switch (compare.target) {
    case "VALUE":
      return { ...common, value: toBase64(compare.value) };
    case "VERSION":
      return { ...common, version: String(compare.version) };
    case "CREATE":
      return { ...common, create_revision: String(compare.createRevision) };
    case "MOD":
      return { ...common, mod_revision: String(compare.modRevision) };
    case "LEASE":
      return { ...common, lease: String(compare.lease) };
  }
}

function encodeOp(op: TxnOp): object {
  if ("get" in op) return { request_range: encodeGet(op.get.key, op.get) };
  if ("put" in op) return { request_put: encodePut(op.put.key, op.put.value, op.put) };
  if ("delete" in op) return { request_delete_range: encodeDelete(op.delete.key, op.delete) };
  return { request_txn: encodeTxn(op.txn) };
}

// ---------------------------------------------------------------------------
// Decoding replies

interface WireReply {
  readonly header?: WireHeader;
  readonly kvs?: readonly WireKeyValue[];
  readonly more?: boolean;
  readonly count?: Int64;
  readonly prev_kv?: WireKeyValue;
  readonly deleted?: Int64;
  readonly prev_kvs?: readonly WireKeyValue[];
  readonly succeeded?: boolean;
  readonly responses?: readonly WireResponseOp[];
}

interface WireResponseOp {
  readonly response_range?: WireReply;
  readonly response_put?: WireReply;
  readonly response_delete_range?: WireReply;
  readonly response_txn?: WireReply;
}

function decodeGet(reply: WireReply): GetResult {
  return { header: decodeHeader(reply.header), kvs: (reply.kvs ?? []).map(decodeKeyValue), more: reply.more ?? false, count: toNumber(reply.count) };
}

function decodePut(reply: WireReply): PutResult {
  return { header: decodeHeader(reply.header), prevKv: reply.prev_kv && decodeKeyValue(reply.prev_kv) };
}

function decodeDelete(reply: WireReply): DeleteResult {
  return { header: decodeHeader(reply.header), deleted: toNumber(reply.deleted), prevKvs: (reply.prev_kvs ?? []).map(decodeKeyValue) };
}

function decodeTxn(reply: WireReply): TxnResult {
  return { header: decodeHeader(reply.header), succeeded: reply.succeeded ?? false, responses: (reply.responses ?? []).map(decodeOpResult) };
}

function decodeOpResult(op: WireResponseOp): TxnOpResult {
  if (op.response_range) return { get: decodeGet(op.response_range) };
  if (op.response_put) return { put: decodePut(op.response_put) };
  if (op.response_delete_range) return { delete: decodeDelete(op.response_delete_range) };
  return { txn: decodeTxn(op.response_txn ?? {}) };
}
