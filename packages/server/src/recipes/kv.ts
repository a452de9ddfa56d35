/**
 * Small builders over KvApi's request types, shared by the HTTP APIs and the
 * recipes: every field at etcd's default unless given, so call sites name
 * only what they mean.
 */
import { etcdError, isEtcdError } from "../errors.js";
import type {
  Compare,
  CompareTarget,
  DeleteRangeRequest,
  KeyValue,
  KvApi,
  LeaseGrantResponse,
  PutRequest,
  RangeRequest,
  RequestOp,
  ResponseHeader,
  ResponseOp,
} from "../kv/api.js";

const EMPTY = new Uint8Array();
const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

export function utf8(text: string): Uint8Array {
  return textEncoder.encode(text);
}

export function fromUtf8(bytes: Uint8Array): string {
  return textDecoder.decode(bytes);
}

export function concatBytes(...parts: readonly Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts));
}

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.compare(a, b) === 0;
}

/** The range end that covers every key starting with a prefix: the store's own rule. */
export { prefixRangeEnd as prefixEnd } from "@raftkv/mvcc";

export function rangeRequest(key: Uint8Array, fields: Partial<RangeRequest> = {}): RangeRequest {
  return {
    key,
    rangeEnd: EMPTY,
    limit: 0,
    revision: 0,
    sortOrder: "NONE",
    sortTarget: "KEY",
    serializable: false,
    keysOnly: false,
    countOnly: false,
    minModRevision: 0,
    maxModRevision: 0,
    minCreateRevision: 0,
    maxCreateRevision: 0,
    ...fields,
  };
}

export function putRequest(key: Uint8Array, value: Uint8Array, fields: Partial<PutRequest> = {}): PutRequest {
  return { key, value, lease: 0, prevKv: false, ignoreValue: false, ignoreLease: false, ...fields };
}

export function deleteRangeRequest(key: Uint8Array, fields: Partial<DeleteRangeRequest> = {}): DeleteRangeRequest {
  return { key, rangeEnd: EMPTY, prevKv: false, ...fields };
}

/** A compare of one key's revision-like field for equality; 0 matches a key that does not exist. */
export function compareEqual(key: Uint8Array, target: Exclude<CompareTarget, "VALUE">, operand: number): Compare {
  return { result: "EQUAL", target, key, rangeEnd: EMPTY, operand };
}

/** The txn op that reads one key back, so a failed compare can report what it found. */
export function readBack(key: Uint8Array): RequestOp {
  return { range: rangeRequest(key) };
}

/** The first key-value a txn's first response op read, if that op was a range. */
export function firstReadBack(responses: readonly ResponseOp[]): KeyValue | undefined {
  const first = responses[0];
  return first !== undefined && "range" in first ? first.range.kvs[0] : undefined;
}

/**
 * Removes a key by revoking its lease, which also ends anything else bound
 * to that lease (a lock holder's or an instance's session); a key without a
 * lease is deleted.
 */
export async function revokeKeyWithLease(api: KvApi, kv: KeyValue): Promise<ResponseHeader> {
  if (kv.lease === 0) return (await api.deleteRange(deleteRangeRequest(kv.key))).header;
  return (await api.leaseRevoke(kv.lease)).header;
}

/** etcd refuses requests above 1.5 MiB. */
export const MAX_REQUEST_BYTES = 1.5 * 1024 * 1024;

/**
 * etcd refuses a put above its request limit. The app refuses large bodies
 * by their Content-Length; a chunked body has none, so puts are measured
 * again once decoded.
 */
export function assertPutFits(key: Uint8Array, value: Uint8Array): void {
  if (key.byteLength + value.byteLength > MAX_REQUEST_BYTES) throw etcdError("requestTooLarge");
}

/** The field of etcd's Compare message that holds the operand, by target (a proto oneof; JSON and gRPC alike). */
export const COMPARE_OPERAND_FIELD: Readonly<Record<CompareTarget, string>> = {
  VERSION: "version",
  CREATE: "create_revision",
  MOD: "mod_revision",
  VALUE: "value",
  LEASE: "lease",
};

/**
 * etcd answers a keep-alive for a lease that does not exist with TTL 0
 * rather than an error: that is how its clients learn the lease is gone.
 */
export async function keepAliveAsEtcd(kv: KvApi, id: number): Promise<LeaseGrantResponse> {
  try {
    return await kv.leaseKeepAlive(id);
  } catch (error) {
    if (isEtcdError(error, "leaseNotFound")) return { header: kv.header(), id, ttl: 0 };
    throw error;
  }
}
