/**
 * Writing etcd v3 gateway replies: the API's types as proto3 JSON (bytes in
 * base64, int64 as decimal strings, zero values left out), and streams as
 * newline-separated messages, as grpc-gateway writes them.
 */
import { STATUS_CODES } from "node:http";
import { GrpcCode, RaftkvError } from "../../errors.js";
import type {
  AlarmMember,
  AlarmResponse,
  DeleteRangeResponse,
  Event,
  KeyValue,
  LeaseGrantResponse,
  LeaseTimeToLiveResponse,
  MaintenanceApi,
  MemberInfo,
  StatusResponse,
  PutResponse,
  RangeResponse,
  ResponseHeader,
  ResponseOp,
  TxnResponse,
  WatchUpdate,
} from "../../kv/api.js";
import type { LeaderKey, LeaderView } from "../../recipes/election.js";
import type { JsonObject } from "./decode.js";
import { compact, encodeBytes, encodeInt } from "./proto3-json.js";

export function encodeHeader(header: ResponseHeader): JsonObject {
  return compact({
    cluster_id: encodeInt(header.clusterId),
    member_id: encodeInt(header.memberId),
    revision: encodeInt(header.revision),
    raft_term: encodeInt(header.raftTerm),
  });
}

export function encodeKv(kv: KeyValue): JsonObject {
  return compact({
    key: encodeBytes(kv.key),
    create_revision: encodeInt(kv.createRevision),
    mod_revision: encodeInt(kv.modRevision),
    version: encodeInt(kv.version),
    value: encodeBytes(kv.value),
    lease: encodeInt(kv.lease),
  });
}

export function encodeRangeResponse(response: RangeResponse): JsonObject {
  return compact({
    header: encodeHeader(response.header),
    kvs: response.kvs.map(encodeKv),
    more: response.more,
    count: encodeInt(response.count),
  });
}

export function encodePutResponse(response: PutResponse): JsonObject {
  return compact({ header: encodeHeader(response.header), prev_kv: response.prevKv && encodeKv(response.prevKv) });
}

export function encodeDeleteRangeResponse(response: DeleteRangeResponse): JsonObject {
  return compact({
    header: encodeHeader(response.header),
    deleted: encodeInt(response.deleted),
    prev_kvs: response.prevKvs.map(encodeKv),
  });
}

export function encodeTxnResponse(response: TxnResponse): JsonObject {
  return compact({
    header: encodeHeader(response.header),
    succeeded: response.succeeded,
    responses: response.responses.map(encodeResponseOp),
  });
}

/**
 * An op's response inside a txn, with the header etcd's apply gives it: the
 * revision alone, and none of a header's fields for a nested txn (etcd
 * fills in only the outermost header).
 */
function encodeResponseOp(op: ResponseOp): JsonObject {
  if ("range" in op) return { response_range: { ...encodeRangeResponse(op.range), header: revisionOnly(op.range.header) } };
  if ("put" in op) return { response_put: { ...encodePutResponse(op.put), header: revisionOnly(op.put.header) } };
  if ("deleteRange" in op) return { response_delete_range: { ...encodeDeleteRangeResponse(op.deleteRange), header: revisionOnly(op.deleteRange.header) } };
  return { response_txn: { ...encodeTxnResponse(op.txn), header: {} } };
}

function revisionOnly(header: ResponseHeader): JsonObject {
  return compact({ revision: encodeInt(header.revision) });
}

/** The stream's first message: the watch exists. */
export function encodeWatchCreated(header: ResponseHeader, watchId: number): JsonObject {
  return { result: compact({ header: encodeHeader(header), watch_id: encodeInt(watchId), created: true }) };
}

/**
 * A watch the client may not open, as etcd answers it: created and canceled
 * at once (watch id -1), the refusal in gRPC's words as the cancel reason.
 */
export function encodeWatchRefused(header: ResponseHeader, refusal: RaftkvError): JsonObject {
  const cancelReason = `rpc error: code = ${GrpcCode[refusal.grpcCode]} desc = ${refusal.message}`;
  return { result: { header: encodeHeader(header), watch_id: "-1", created: true, canceled: true, cancel_reason: cancelReason } };
}

/** One watch update as a stream message; a compacted start cancels the watch. */
export function encodeWatchUpdate(update: WatchUpdate, watchId: number): JsonObject {
  const common = { header: encodeHeader(update.header), watch_id: encodeInt(watchId) };
  switch (update.kind) {
    case "events":
      return { result: compact({ ...common, events: update.events.map(encodeEvent) }) };
    case "progress":
      return { result: compact(common) };
    case "compacted":
      return { result: compact({ ...common, canceled: true, compact_revision: encodeInt(update.compactRevision) }) };
  }
}

function encodeEvent(event: Event): JsonObject {
  // PUT is the enum's zero value: proto3 JSON leaves it out.
  return compact({ type: event.type === "PUT" ? undefined : event.type, kv: encodeKv(event.kv), prev_kv: event.prevKv && encodeKv(event.prevKv) });
}

export function encodeLease(response: LeaseGrantResponse): JsonObject {
  return compact({ header: encodeHeader(response.header), ID: encodeInt(response.id), TTL: encodeInt(response.ttl) });
}

export function encodeTimeToLive(response: LeaseTimeToLiveResponse): JsonObject {
  return compact({
    header: encodeHeader(response.header),
    ID: encodeInt(response.id),
    TTL: encodeInt(response.ttl),
    grantedTTL: encodeInt(response.grantedTtl),
    keys: response.keys.map(encodeBytes),
  });
}

export function encodeLeases(response: { header: ResponseHeader; leases: readonly number[] }): JsonObject {
  return compact({ header: encodeHeader(response.header), leases: response.leases.map((id) => ({ ID: encodeInt(id) })) });
}

export function encodeMember(member: MemberInfo): JsonObject {
  return compact({
    ID: encodeInt(member.id),
    name: member.name,
    peerURLs: member.peerUrls,
    clientURLs: member.clientUrls,
    isLearner: member.isLearner,
  });
}

export function encodeMembers(response: { header: ResponseHeader; members: readonly MemberInfo[]; member?: MemberInfo }): JsonObject {
  return compact({
    header: encodeHeader(response.header),
    member: response.member && encodeMember(response.member),
    members: response.members.map(encodeMember),
  });
}

export function encodeStatus(status: StatusResponse): JsonObject {
  return compact({
    header: encodeHeader(status.header),
    version: status.version,
    dbSize: encodeInt(status.dbSize),
    leader: encodeInt(status.leader),
    raftIndex: encodeInt(status.raftIndex),
    raftTerm: encodeInt(status.raftTerm),
    raftAppliedIndex: encodeInt(status.raftAppliedIndex),
    errors: status.errors,
    dbSizeInUse: encodeInt(status.dbSizeInUse),
    isLearner: status.isLearner,
  });
}

export function encodeHashKv(response: { header: ResponseHeader; hash: number; compactRevision: number }): JsonObject {
  return compact({ header: encodeHeader(response.header), hash: response.hash, compact_revision: encodeInt(response.compactRevision) });
}

export function encodeAlarmResponse(response: AlarmResponse): JsonObject {
  return compact({ header: encodeHeader(response.header), alarms: response.alarms.map(encodeAlarmMember) });
}

function encodeAlarmMember(member: AlarmMember): JsonObject {
  return compact({ memberID: encodeInt(member.memberId), alarm: member.alarm });
}

export function encodeLeaderKey(leader: LeaderKey): JsonObject {
  return compact({ name: encodeBytes(leader.name), key: encodeBytes(leader.key), rev: encodeInt(leader.rev), lease: encodeInt(leader.lease) });
}

export function encodeLeaderView(view: LeaderView): JsonObject {
  return { header: encodeHeader(view.header), kv: encodeKv(view.kv) };
}

export function headerOnly(response: { header: ResponseHeader }): JsonObject {
  return { header: encodeHeader(response.header) };
}

/** A failure in the middle of a stream, the way grpc-gateway reports it: the status is already sent. */
export function encodeStreamError(error: unknown): JsonObject {
  const typed = error instanceof RaftkvError ? error : new RaftkvError(GrpcCode.Internal, error instanceof Error ? error.message : String(error));
  const status = typed.httpStatus;
  return { error: { grpc_code: typed.grpcCode, http_code: status, message: typed.message, http_status: STATUS_CODES[status] ?? "" } };
}

/** etcd's snapshot stream: the file in base64 blobs, each saying how many bytes remain after it. */
export async function* snapshotMessages(snapshot: Awaited<ReturnType<MaintenanceApi["snapshot"]>>): AsyncIterable<JsonObject> {
  let remaining = snapshot.size;
  for await (const chunk of snapshot.bytes) {
    remaining -= chunk.byteLength;
    yield { result: compact({ header: encodeHeader(snapshot.header), remaining_bytes: encodeInt(remaining), blob: encodeBytes(chunk) }) };
  }
}

/** A watch stream: the message saying it exists, then one message per update. */
export async function* watchMessages(created: JsonObject, updates: AsyncIterable<WatchUpdate>, watchId: number): AsyncGenerator<JsonObject> {
  yield created;
  for await (const update of updates) yield encodeWatchUpdate(update, watchId);
}

/** Newline-separated JSON, as grpc-gateway streams; a failure midway becomes a last `{"error": …}` message. */
export async function* jsonLines(messages: AsyncIterable<JsonObject>): AsyncGenerator<string> {
  try {
    for await (const message of messages) yield `${JSON.stringify(message)}\n`;
  } catch (error) {
    yield `${JSON.stringify(encodeStreamError(error))}\n`;
  }
}
