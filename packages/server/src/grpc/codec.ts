/**
 * etcd's protobuf messages to and from the member's request API types.
 * Messages arrive as @grpc/proto-loader builds them (see server.ts): field
 * names as in the .proto files, int64 as numbers, enums as their names,
 * bytes as Buffers, every absent field at its default, and a oneof's set
 * field named by the oneof. Replies are plain objects of the same shape.
 */
import type {
  AlarmRequest,
  AlarmResponse,
  Compare,
  CompareTarget,
  DeleteRangeRequest,
  KeyValue,
  LeaseTimeToLiveResponse,
  MemberInfo,
  StatusResponse,
  PutRequest,
  RangeRequest,
  RangeResponse,
  RequestOp,
  ResponseHeader,
  ResponseOp,
  TxnRequest,
  TxnResponse,
  WatchRequest,
} from "../kv/api.js";
import { PERMISSION_TYPES, type Permission, type PermissionType } from "../auth/state.js";
import { invalidArgument } from "../errors.js";
import type { LeaderKey } from "../recipes/election.js";
import { COMPARE_OPERAND_FIELD, assertPutFits } from "../recipes/kv.js";

type Message = Record<string, unknown>;

/** What a decoded request message looks like: fields by their proto names. */
export interface Decoded {
  readonly [field: string]: any;
}

// ---------------------------------------------------------------- requests

export function decodeRangeRequest(m: Decoded): RangeRequest {
  return {
    key: m.key,
    rangeEnd: m.range_end,
    limit: m.limit,
    revision: m.revision,
    sortOrder: m.sort_order,
    sortTarget: m.sort_target,
    serializable: m.serializable,
    keysOnly: m.keys_only,
    countOnly: m.count_only,
    minModRevision: m.min_mod_revision,
    maxModRevision: m.max_mod_revision,
    minCreateRevision: m.min_create_revision,
    maxCreateRevision: m.max_create_revision,
  };
}

export function decodePutRequest(m: Decoded): PutRequest {
  assertPutFits(m.key, m.value);
  return { key: m.key, value: m.value, lease: m.lease, prevKv: m.prev_kv, ignoreValue: m.ignore_value, ignoreLease: m.ignore_lease };
}

export function decodeDeleteRangeRequest(m: Decoded): DeleteRangeRequest {
  return { key: m.key, rangeEnd: m.range_end, prevKv: m.prev_kv };
}

export function decodeTxnRequest(m: Decoded): TxnRequest {
  return {
    compare: (m.compare as Decoded[]).map(decodeCompare),
    success: (m.success as Decoded[]).map(decodeRequestOp),
    failure: (m.failure as Decoded[]).map(decodeRequestOp),
  };
}

function decodeCompare(m: Decoded): Compare {
  const target = m.target as CompareTarget;
  // A oneof left unset reads as its fields' defaults, as in etcd.
  const operand = m[COMPARE_OPERAND_FIELD[target]] ?? (target === "VALUE" ? new Uint8Array() : 0);
  return { result: m.result, target, key: m.key, rangeEnd: m.range_end, operand };
}

function decodeRequestOp(m: Decoded): RequestOp {
  switch (m.request) {
    case "request_range":
      return { range: decodeRangeRequest(m.request_range) };
    case "request_put":
      return { put: decodePutRequest(m.request_put) };
    case "request_delete_range":
      return { deleteRange: decodeDeleteRangeRequest(m.request_delete_range) };
    case "request_txn":
      return { txn: decodeTxnRequest(m.request_txn) };
    default:
      // etcd treats an empty op as a range of the empty key, which finds nothing.
      return { range: decodeRangeRequest({ ...EMPTY_RANGE }) };
  }
}

const EMPTY_RANGE: Decoded = {
  key: new Uint8Array(),
  range_end: new Uint8Array(),
  limit: 0,
  revision: 0,
  sort_order: "NONE",
  sort_target: "KEY",
  serializable: false,
  keys_only: false,
  count_only: false,
  min_mod_revision: 0,
  max_mod_revision: 0,
  min_create_revision: 0,
  max_create_revision: 0,
};

export function decodeWatchCreate(m: Decoded): WatchRequest {
  const filters = m.filters as string[];
  return {
    key: m.key,
    rangeEnd: m.range_end,
    startRevision: m.start_revision,
    prevKv: m.prev_kv,
    noPut: filters.includes("NOPUT"),
    noDelete: filters.includes("NODELETE"),
    progressNotify: m.progress_notify,
  };
}

export function decodeAlarmRequest(m: Decoded): AlarmRequest {
  return { action: m.action, memberId: m.memberID, alarm: m.alarm };
}

export function decodeLeaderKey(m: Decoded | null): LeaderKey {
  const key = m ?? { name: new Uint8Array(), key: new Uint8Array(), rev: 0, lease: 0 };
  return { name: key.name, key: key.key, rev: key.rev, lease: key.lease };
}

export function decodePermission(m: Decoded): Permission {
  // An enum number the proto does not name arrives as the number itself.
  if (!PERMISSION_TYPES.includes(m.permType)) throw invalidArgument(`unknown permission type ${String(m.permType)}`);
  return { type: m.permType as PermissionType, key: m.key, rangeEnd: m.range_end };
}

// --------------------------------------------------------------- responses

export function encodeHeader(header: ResponseHeader): Message {
  return { cluster_id: header.clusterId, member_id: header.memberId, revision: header.revision, raft_term: header.raftTerm };
}

export function encodeKv(kv: KeyValue): Message {
  return {
    key: kv.key,
    create_revision: kv.createRevision,
    mod_revision: kv.modRevision,
    version: kv.version,
    value: kv.value,
    lease: kv.lease,
  };
}

export function encodeRangeResponse(response: RangeResponse): Message {
  return { header: encodeHeader(response.header), kvs: response.kvs.map(encodeKv), more: response.more, count: response.count };
}

export function encodePutResponse(response: { header: ResponseHeader; prevKv?: KeyValue }): Message {
  return { header: encodeHeader(response.header), prev_kv: response.prevKv && encodeKv(response.prevKv) };
}

export function encodeDeleteRangeResponse(response: { header: ResponseHeader; deleted: number; prevKvs: readonly KeyValue[] }): Message {
  return { header: encodeHeader(response.header), deleted: response.deleted, prev_kvs: response.prevKvs.map(encodeKv) };
}

export function encodeTxnResponse(response: TxnResponse): Message {
  return { header: encodeHeader(response.header), succeeded: response.succeeded, responses: response.responses.map(encodeResponseOp) };
}

function encodeResponseOp(op: ResponseOp): Message {
  if ("range" in op) return { response_range: encodeRangeResponse(op.range) };
  if ("put" in op) return { response_put: encodePutResponse(op.put) };
  if ("deleteRange" in op) return { response_delete_range: encodeDeleteRangeResponse(op.deleteRange) };
  return { response_txn: encodeTxnResponse(op.txn) };
}

export function encodeTimeToLive(response: LeaseTimeToLiveResponse): Message {
  return { header: encodeHeader(response.header), ID: response.id, TTL: response.ttl, grantedTTL: response.grantedTtl, keys: response.keys };
}

export function encodeMember(member: MemberInfo): Message {
  return { ID: member.id, name: member.name, peerURLs: member.peerUrls, clientURLs: member.clientUrls, isLearner: member.isLearner };
}

export function encodeMembers(response: { header: ResponseHeader; members: readonly MemberInfo[]; member?: MemberInfo }): Message {
  return {
    header: encodeHeader(response.header),
    member: response.member && encodeMember(response.member),
    members: response.members.map(encodeMember),
  };
}

export function encodeStatus(status: StatusResponse): Message {
  return {
    header: encodeHeader(status.header),
    version: status.version,
    dbSize: status.dbSize,
    leader: status.leader,
    raftIndex: status.raftIndex,
    raftTerm: status.raftTerm,
    raftAppliedIndex: status.raftAppliedIndex,
    errors: status.errors,
    dbSizeInUse: status.dbSizeInUse,
    isLearner: status.isLearner,
  };
}

export function encodeAlarmResponse(response: AlarmResponse): Message {
  return { header: encodeHeader(response.header), alarms: response.alarms.map((a) => ({ memberID: a.memberId, alarm: a.alarm })) };
}

export function encodeLeaderKey(leader: LeaderKey): Message {
  return { name: leader.name, key: leader.key, rev: leader.rev, lease: leader.lease };
}

export function headerOnly(response: { header: ResponseHeader }): Message {
  return { header: encodeHeader(response.header) };
}

export function encodePermission(permission: Permission): Message {
  return { permType: permission.type, key: permission.key, range_end: permission.rangeEnd };
}
