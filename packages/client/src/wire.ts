/**
 * The etcd v3 JSON gateway's shapes (proto3 JSON: bytes in base64, int64 as
 * decimal strings, zero values left out) and their decoding into the
 * client's types (Buffers and numbers, every field present).
 */
import { fromBase64, toNumber } from "./bytes.js";
import type { ResponseHeader } from "./shared-types.js";

export type Int64 = string | number;

export interface WireHeader {
  readonly cluster_id?: Int64;
  readonly member_id?: Int64;
  readonly revision?: Int64;
  readonly raft_term?: Int64;
}

export interface WireKeyValue {
  readonly key?: string;
  readonly create_revision?: Int64;
  readonly mod_revision?: Int64;
  readonly version?: Int64;
  readonly value?: string;
  readonly lease?: Int64;
}

export type { ResponseHeader };

export interface KeyValue {
  readonly key: Buffer;
  readonly value: Buffer;
  readonly createRevision: number;
  readonly modRevision: number;
  /** 1 for the first put after creation or deletion. */
  readonly version: number;
  /** 0 when the key is bound to no lease. */
  readonly lease: number;
}

export function decodeHeader(header: WireHeader | undefined): ResponseHeader {
  return {
    clusterId: toNumber(header?.cluster_id),
    memberId: toNumber(header?.member_id),
    revision: toNumber(header?.revision),
    raftTerm: toNumber(header?.raft_term),
  };
}

export function decodeKeyValue(kv: WireKeyValue): KeyValue {
  return {
    key: fromBase64(kv.key),
    value: fromBase64(kv.value),
    createRevision: toNumber(kv.create_revision),
    modRevision: toNumber(kv.mod_revision),
    version: toNumber(kv.version),
    lease: toNumber(kv.lease),
  };
}

/** A JSON reply's body, for the namespaces to read their fields from. */
export function parseJson<T>(body: Buffer): T {
  return JSON.parse(body.toString("utf8")) as T;
}
