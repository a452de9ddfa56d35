/**
 * etcd v3's JSON gateway, as etcd 3.4 serves it: the same paths, the same
 * field names as etcd's protos (snake_case for KV and watch, etcd's own
 * camelCase for lease, cluster and maintenance), proto3 JSON (bytes in
 * base64, int64 as decimal strings, zero values left out), so that anything
 * written for etcd's gateway works unchanged.
 *
 * Decoding and encoding are pure functions, exported for the tests; the
 * routes at the bottom only glue them to the KvApi and the recipes.
 */
import { STATUS_CODES } from "node:http";
import { Readable } from "node:stream";
import type { FastifyInstance } from "fastify";
import { GrpcCode, RaftkvError, invalidArgument, isEtcdError } from "../errors.js";
import type {
  AlarmMember,
  AlarmRequest,
  AlarmResponse,
  Compare,
  CompareResult,
  CompareTarget,
  DeleteRangeRequest,
  DeleteRangeResponse,
  Event,
  KeyValue,
  KvApi,
  LeaseGrantResponse,
  LeaseTimeToLiveResponse,
  MaintenanceApi,
  MemberApis,
  MemberInfo,
  MemberStatus,
  PutRequest,
  PutResponse,
  RangeRequest,
  RangeResponse,
  RequestOp,
  ResponseHeader,
  ResponseOp,
  SortOrder,
  SortTarget,
  TxnRequest,
  TxnResponse,
  WatchRequest,
  WatchUpdate,
  WriteOptions,
} from "../kv/api.js";
import { campaign, currentLeader, observeLeader, proclaim, resign, type LeaderKey, type LeaderView } from "../recipes/election.js";
import { assertPutFits } from "../recipes/kv.js";
import { acquireLock, releaseLock } from "../recipes/lock.js";
import { abortWhenClosed, watchUpdates } from "../recipes/watch.js";
import { parseAnyBodyAsJson } from "./app.js";
import { FORWARDED_HEADER, askLeader } from "./leader-forward.js";
import { compact, decodeBool, decodeBytes, decodeEnum, decodeInt, encodeBytes, encodeInt } from "./etcd-json.js";
import { IDEMPOTENCY_KEY_HEADERS, writeOptionsOf, type IdempotencyKeyHeaders } from "./idempotency-key.js";

type JsonObject = Readonly<Record<string, unknown>>;

// ---------------------------------------------------------------------------
// Reading requests

const SORT_ORDERS = ["NONE", "ASCEND", "DESCEND"] as const satisfies readonly SortOrder[];
const SORT_TARGETS = ["KEY", "VERSION", "CREATE", "MOD", "VALUE"] as const satisfies readonly SortTarget[];
const COMPARE_RESULTS = ["EQUAL", "GREATER", "LESS", "NOT_EQUAL"] as const satisfies readonly CompareResult[];
const COMPARE_TARGETS = ["VERSION", "CREATE", "MOD", "VALUE", "LEASE"] as const satisfies readonly CompareTarget[];
const WATCH_FILTERS = ["NOPUT", "NODELETE"] as const;
const ALARM_ACTIONS = ["GET", "ACTIVATE", "DEACTIVATE"] as const satisfies readonly AlarmRequest["action"][];
const ALARM_TYPES = ["NONE", "NOSPACE", "CORRUPT"] as const satisfies readonly AlarmRequest["alarm"][];

/** The field of a compare that holds its operand, by target (a proto oneof). */
const COMPARE_OPERAND_FIELD: Readonly<Record<CompareTarget, string>> = {
  VERSION: "version",
  CREATE: "create_revision",
  MOD: "mod_revision",
  VALUE: "value",
  LEASE: "lease",
};

/** One JSON object of a request body. Errors name a field by its path, e.g. `success[0].request_put.key`. */
export class Fields {
  private constructor(
    private readonly json: JsonObject,
    private readonly path: string,
  ) {}

  static of(value: unknown, path = ""): Fields {
    if (value === undefined || value === null) return new Fields({}, path);
    if (typeof value !== "object" || Array.isArray(value)) throw invalidArgument(`${path || "the body"} must be a JSON object`);
    return new Fields(value as JsonObject, path);
  }

  has(name: string): boolean {
    return this.json[name] !== undefined && this.json[name] !== null;
  }

  bytes(name: string): Uint8Array {
    return decodeBytes(this.json[name], this.pathOf(name));
  }

  int(name: string): number {
    return decodeInt(this.json[name], this.pathOf(name));
  }

  bool(name: string): boolean {
    return decodeBool(this.json[name], this.pathOf(name));
  }

  enum<T extends string>(name: string, names: readonly T[]): T {
    return decodeEnum(this.json[name], names, this.pathOf(name));
  }

  enums<T extends string>(name: string, names: readonly T[]): T[] {
    return this.list(name).map((value, i) => decodeEnum(value, names, `${this.pathOf(name)}[${i}]`));
  }

  strings(name: string): string[] {
    return this.list(name).map((value, i) => {
      if (typeof value !== "string") throw invalidArgument(`field "${this.pathOf(name)}[${i}]" must be a string`);
      return value;
    });
  }

  object(name: string): Fields {
    return Fields.of(this.json[name], this.pathOf(name));
  }

  objects(name: string): Fields[] {
    return this.list(name).map((value, i) => Fields.of(value, `${this.pathOf(name)}[${i}]`));
  }

  invalid(message: string): RaftkvError {
    return invalidArgument(this.path ? `${this.path}: ${message}` : message);
  }

  private list(name: string): unknown[] {
    const value = this.json[name];
    if (value === undefined || value === null) return [];
    if (!Array.isArray(value)) throw invalidArgument(`field "${this.pathOf(name)}" must be a list`);
    return value;
  }

  private pathOf(name: string): string {
    return this.path ? `${this.path}.${name}` : name;
  }
}

export function decodeRangeRequest(f: Fields): RangeRequest {
  return {
    key: f.bytes("key"),
    rangeEnd: f.bytes("range_end"),
    limit: f.int("limit"),
    revision: f.int("revision"),
    sortOrder: f.enum("sort_order", SORT_ORDERS),
    sortTarget: f.enum("sort_target", SORT_TARGETS),
    serializable: f.bool("serializable"),
    keysOnly: f.bool("keys_only"),
    countOnly: f.bool("count_only"),
    minModRevision: f.int("min_mod_revision"),
    maxModRevision: f.int("max_mod_revision"),
    minCreateRevision: f.int("min_create_revision"),
    maxCreateRevision: f.int("max_create_revision"),
  };
}

export function decodePutRequest(f: Fields): PutRequest {
  const key = f.bytes("key");
  const value = f.bytes("value");
  assertPutFits(key, value);
  return {
    key,
    value,
    lease: f.int("lease"),
    prevKv: f.bool("prev_kv"),
    ignoreValue: f.bool("ignore_value"),
    ignoreLease: f.bool("ignore_lease"),
  };
}

export function decodeDeleteRangeRequest(f: Fields): DeleteRangeRequest {
  return { key: f.bytes("key"), rangeEnd: f.bytes("range_end"), prevKv: f.bool("prev_kv") };
}

export function decodeTxnRequest(f: Fields): TxnRequest {
  return {
    compare: f.objects("compare").map(decodeCompare),
    success: f.objects("success").map(decodeRequestOp),
    failure: f.objects("failure").map(decodeRequestOp),
  };
}

function decodeCompare(f: Fields): Compare {
  const target = f.enum("target", COMPARE_TARGETS);
  const operandField = COMPARE_OPERAND_FIELD[target];
  return {
    result: f.enum("result", COMPARE_RESULTS),
    target,
    key: f.bytes("key"),
    rangeEnd: f.bytes("range_end"),
    operand: target === "VALUE" ? f.bytes(operandField) : f.int(operandField),
  };
}

function decodeRequestOp(f: Fields): RequestOp {
  if (f.has("request_range")) return { range: decodeRangeRequest(f.object("request_range")) };
  if (f.has("request_put")) return { put: decodePutRequest(f.object("request_put")) };
  if (f.has("request_delete_range")) return { deleteRange: decodeDeleteRangeRequest(f.object("request_delete_range")) };
  if (f.has("request_txn")) return { txn: decodeTxnRequest(f.object("request_txn")) };
  throw f.invalid("a request op needs one of request_range, request_put, request_delete_range, request_txn");
}

/** A watch request and the id its responses carry (the client's `watch_id`, 0 by default). */
export function decodeWatchRequest(body: Fields): { request: WatchRequest; watchId: number } {
  if (!body.has("create_request")) throw body.invalid("a watch over HTTP needs a create_request");
  const f = body.object("create_request");
  const filters = f.enums("filters", WATCH_FILTERS);
  const request: WatchRequest = {
    key: f.bytes("key"),
    rangeEnd: f.bytes("range_end"),
    startRevision: f.int("start_revision"),
    prevKv: f.bool("prev_kv"),
    noPut: filters.includes("NOPUT"),
    noDelete: filters.includes("NODELETE"),
    progressNotify: f.bool("progress_notify"),
  };
  return { request, watchId: f.int("watch_id") };
}

export function decodeAlarmRequest(f: Fields): AlarmRequest {
  return { action: f.enum("action", ALARM_ACTIONS), memberId: f.int("memberID"), alarm: f.enum("alarm", ALARM_TYPES) };
}

export function decodeLeaderKey(f: Fields): LeaderKey {
  return { name: f.bytes("name"), key: f.bytes("key"), rev: f.int("rev"), lease: f.int("lease") };
}

// ---------------------------------------------------------------------------
// Writing responses

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

function encodeResponseOp(op: ResponseOp): JsonObject {
  if ("range" in op) return { response_range: encodeRangeResponse(op.range) };
  if ("put" in op) return { response_put: encodePutResponse(op.put) };
  if ("deleteRange" in op) return { response_delete_range: encodeDeleteRangeResponse(op.deleteRange) };
  return { response_txn: encodeTxnResponse(op.txn) };
}

/** The stream's first message: the watch exists. */
export function encodeWatchCreated(header: ResponseHeader, watchId: number): JsonObject {
  return { result: compact({ header: encodeHeader(header), watch_id: encodeInt(watchId), created: true }) };
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

function encodeLease(response: LeaseGrantResponse): JsonObject {
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

export function encodeMember(member: MemberInfo): JsonObject {
  return compact({
    ID: encodeInt(member.id),
    name: member.name,
    peerURLs: member.peerUrls,
    clientURLs: member.clientUrls,
    isLearner: member.isLearner,
  });
}

function encodeMembers(response: { header: ResponseHeader; members: readonly MemberInfo[]; member?: MemberInfo }): JsonObject {
  return compact({
    header: encodeHeader(response.header),
    member: response.member && encodeMember(response.member),
    members: response.members.map(encodeMember),
  });
}

export function encodeStatus(status: MemberStatus): JsonObject {
  return compact({
    header: encodeHeader(status.header),
    version: status.version,
    dbSize: encodeInt(status.dbSize),
    leader: encodeInt(status.leader),
    raftIndex: encodeInt(status.raftIndex),
    raftTerm: encodeInt(status.raftTerm),
    raftAppliedIndex: encodeInt(status.raftAppliedIndex),
    errors: status.errors,
    // No free-page accounting here: the whole store is in use.
    dbSizeInUse: encodeInt(status.dbSize),
    isLearner: status.isLearner,
  });
}

export function encodeAlarmResponse(response: AlarmResponse): JsonObject {
  return compact({ header: encodeHeader(response.header), alarms: response.alarms.map(encodeAlarmMember) });
}

function encodeAlarmMember(member: AlarmMember): JsonObject {
  return compact({ memberID: encodeInt(member.memberId), alarm: member.alarm });
}

function encodeLeaderKey(leader: LeaderKey): JsonObject {
  return compact({ name: encodeBytes(leader.name), key: encodeBytes(leader.key), rev: encodeInt(leader.rev), lease: encodeInt(leader.lease) });
}

function encodeLeaderView(view: LeaderView): JsonObject {
  return { header: encodeHeader(view.header), kv: encodeKv(view.kv) };
}

function headerOnly(response: { header: ResponseHeader }): JsonObject {
  return { header: encodeHeader(response.header) };
}

/** A failure in the middle of a stream, the way grpc-gateway reports it: the status is already sent. */
export function encodeStreamError(error: unknown): JsonObject {
  const typed = error instanceof RaftkvError ? error : new RaftkvError(GrpcCode.Internal, error instanceof Error ? error.message : String(error));
  const status = typed.httpStatus;
  return { error: { grpc_code: typed.grpcCode, http_code: status, message: typed.message, http_status: STATUS_CODES[status] ?? "" } };
}

// ---------------------------------------------------------------------------
// Body schemas: int64 fields accept a number or a decimal string, enums a
// name or a number, bytes a (base64) string checked when decoded.

type Schema = Readonly<Record<string, unknown>>;

const INT64: Schema = { anyOf: [{ type: "integer" }, { type: "string", pattern: "^-?[0-9]+$" }] };
const BYTES: Schema = { type: "string" };
const BOOL: Schema = { type: "boolean" };
const STRINGS: Schema = { type: "array", items: { type: "string" } };

function enumOf(names: readonly string[]): Schema {
  return { anyOf: [{ type: "string", enum: names }, { type: "integer", minimum: 0, maximum: names.length - 1 }] };
}

function object(properties: Record<string, Schema>): Schema {
  return { type: "object", properties };
}

function listOf(items: Schema): Schema {
  return { type: "array", items };
}

const EMPTY_REQUEST = object({});
const ID_REQUEST = object({ ID: INT64 });

const RANGE_REQUEST = object({
  key: BYTES,
  range_end: BYTES,
  limit: INT64,
  revision: INT64,
  sort_order: enumOf(SORT_ORDERS),
  sort_target: enumOf(SORT_TARGETS),
  serializable: BOOL,
  keys_only: BOOL,
  count_only: BOOL,
  min_mod_revision: INT64,
  max_mod_revision: INT64,
  min_create_revision: INT64,
  max_create_revision: INT64,
});
const PUT_REQUEST = object({ key: BYTES, value: BYTES, lease: INT64, prev_kv: BOOL, ignore_value: BOOL, ignore_lease: BOOL });
const DELETE_RANGE_REQUEST = object({ key: BYTES, range_end: BYTES, prev_kv: BOOL });
const COMPARE = object({
  result: enumOf(COMPARE_RESULTS),
  target: enumOf(COMPARE_TARGETS),
  key: BYTES,
  range_end: BYTES,
  version: INT64,
  create_revision: INT64,
  mod_revision: INT64,
  value: BYTES,
  lease: INT64,
});

/** Txns nest, so the txn schema is registered once under an id and refers to itself. */
const TXN_SCHEMA_ID = "etcdTxnRequest";
const TXN_REQUEST_REF: Schema = { $ref: `${TXN_SCHEMA_ID}#` };
const REQUEST_OP = object({
  request_range: RANGE_REQUEST,
  request_put: PUT_REQUEST,
  request_delete_range: DELETE_RANGE_REQUEST,
  request_txn: TXN_REQUEST_REF,
});
const TXN_REQUEST: Schema = { $id: TXN_SCHEMA_ID, ...object({ compare: listOf(COMPARE), success: listOf(REQUEST_OP), failure: listOf(REQUEST_OP) }) };

const WATCH_REQUEST = object({
  create_request: object({
    key: BYTES,
    range_end: BYTES,
    start_revision: INT64,
    progress_notify: BOOL,
    filters: listOf(enumOf(WATCH_FILTERS)),
    prev_kv: BOOL,
    watch_id: INT64,
    fragment: BOOL,
  }),
});
const LEADER_KEY = object({ name: BYTES, key: BYTES, rev: INT64, lease: INT64 });

// Reply schemas of the hottest routes: fastify compiles them into a
// serializer that writes these fields directly instead of walking the object
// as JSON.stringify does. They must name every field the encoder can produce;
// the encoders' tests check the compiled output against JSON.stringify.
const STRING: Schema = { type: "string" };
const HEADER_REPLY = object({ cluster_id: STRING, member_id: STRING, revision: STRING, raft_term: STRING });
const KV_REPLY = object({ key: STRING, create_revision: STRING, mod_revision: STRING, version: STRING, value: STRING, lease: STRING });
export const RANGE_REPLY = object({ header: HEADER_REPLY, kvs: listOf(KV_REPLY), more: BOOL, count: STRING });
export const PUT_REPLY = object({ header: HEADER_REPLY, prev_kv: KV_REPLY });

// ---------------------------------------------------------------------------
// Routes

/** What a route gets besides its body. */
interface RouteContext {
  /** The Idempotency-Key header as the options of the write the route makes. */
  readonly write: WriteOptions;
  /** A signal that aborts when the client leaves; only waiting routes need one, so it is made on demand. */
  whenClosed(): AbortSignal;
}

type Unary = (body: Fields, context: RouteContext) => Promise<JsonObject>;
/** Opens a stream of messages; throwing here (before any byte is sent) replies with an error status. */
type Streaming = (body: Fields, signal: AbortSignal) => Promise<AsyncIterable<JsonObject>>;

export function etcdGatewayPlugin({ kv: api, cluster, maintenance }: MemberApis) {
  return async (app: FastifyInstance): Promise<void> => {
    parseAnyBodyAsJson(app);
    // grpc-gateway reads a missing body as an empty request (`curl -X POST …/status`).
    app.addHook("preValidation", async (request) => {
      request.body ??= {};
    });
    app.addSchema(TXN_REQUEST);

    /** A POST route (or several, for etcd's aliases), with a schema for its successful reply where one is given. */
    const post = (urls: string | readonly string[], body: Schema, handle: Unary, replySchema?: Schema): void => {
      const schema = replySchema ? { body, response: { 200: replySchema } } : { body };
      for (const url of [urls].flat()) {
        app.post<{ Headers: IdempotencyKeyHeaders }>(url, { schema: { ...schema, headers: IDEMPOTENCY_KEY_HEADERS } }, async (request, reply) =>
          handle(Fields.of(request.body), { write: writeOptionsOf(request.headers), whenClosed: () => abortWhenClosed(reply.raw) }),
        );
      }
    };
    /** A POST route that only the leader may answer: on another member, the request is forwarded to the leader. */
    const postOnLeader = (url: string, body: Schema, handle: Unary): void => {
      app.post(url, { schema: { body } }, async (request, reply) => {
        const answerHere = () => handle(Fields.of(request.body), { write: {}, whenClosed: () => abortWhenClosed(reply.raw) });
        if (request.headers[FORWARDED_HEADER] !== undefined) return answerHere();
        const answer = await askLeader({ locateLeader: () => cluster.leaderClientUrl(), answerHere, path: url, body: request.body });
        if ("here" in answer) return answer.here;
        return reply.status(answer.forwarded.status).type("application/json").send(answer.forwarded.body);
      });
    };
    /** A POST route answered by newline-separated JSON messages until the source ends or the client leaves. */
    const stream = (url: string, body: Schema, open: Streaming): void => {
      app.post(url, { schema: { body } }, async (request, reply) => {
        const messages = await open(Fields.of(request.body), abortWhenClosed(reply.raw));
        return reply.type("application/json").send(Readable.from(jsonLines(messages)));
      });
    };

    post("/v3/kv/range", RANGE_REQUEST, async (f) => encodeRangeResponse(await api.range(decodeRangeRequest(f))), RANGE_REPLY);
    post("/v3/kv/put", PUT_REQUEST, async (f, { write }) => encodePutResponse(await api.put(decodePutRequest(f), write)), PUT_REPLY);
    post("/v3/kv/deleterange", DELETE_RANGE_REQUEST, async (f, { write }) =>
      encodeDeleteRangeResponse(await api.deleteRange(decodeDeleteRangeRequest(f), write)),
    );
    post("/v3/kv/txn", TXN_REQUEST_REF, async (f, { write }) => encodeTxnResponse(await api.txn(decodeTxnRequest(f), write)));
    post("/v3/kv/compaction", object({ revision: INT64, physical: BOOL }), async (f, { write }) => headerOnly(await api.compact(f.int("revision"), write)));

    stream("/v3/watch", WATCH_REQUEST, async (f, signal) => {
      const { request, watchId } = decodeWatchRequest(f);
      const updates = await watchUpdates(api, request, signal);
      return watchMessages(encodeWatchCreated(api.header(), watchId), updates, watchId);
    });

    post("/v3/lease/grant", object({ TTL: INT64, ID: INT64 }), async (f, { write }) => encodeLease(await api.leaseGrant(f.int("TTL"), f.int("ID"), write)));
    post(["/v3/lease/revoke", "/v3/kv/lease/revoke"], ID_REQUEST, async (f, { write }) => headerOnly(await api.leaseRevoke(f.int("ID"), write)));
    post("/v3/lease/keepalive", ID_REQUEST, async (f) => ({ result: encodeLease(await keepAlive(api, f.int("ID"))) }));
    post(["/v3/lease/timetolive", "/v3/kv/lease/timetolive"], object({ ID: INT64, keys: BOOL }), async (f) =>
      encodeTimeToLive(await api.leaseTimeToLive(f.int("ID"), f.bool("keys"))),
    );
    post(["/v3/lease/leases", "/v3/kv/lease/leases"], EMPTY_REQUEST, async () => {
      const { header, leases } = await api.leaseLeases();
      return compact({ header: encodeHeader(header), leases: leases.map((id) => ({ ID: encodeInt(id) })) });
    });

    post("/v3/cluster/member/list", EMPTY_REQUEST, async () => encodeMembers(await cluster.memberList()));
    postOnLeader("/v3/cluster/member/add", object({ peerURLs: STRINGS, isLearner: BOOL }), async (f) =>
      encodeMembers(await cluster.memberAdd(f.strings("peerURLs"), f.bool("isLearner"))),
    );
    postOnLeader("/v3/cluster/member/remove", ID_REQUEST, async (f) => encodeMembers(await cluster.memberRemove(f.int("ID"))));
    post("/v3/cluster/member/update", object({ ID: INT64, peerURLs: STRINGS }), async (f) =>
      encodeMembers(await cluster.memberUpdate(f.int("ID"), f.strings("peerURLs"))),
    );
    postOnLeader("/v3/cluster/member/promote", ID_REQUEST, async (f) => encodeMembers(await cluster.memberPromote(f.int("ID"))));

    post("/v3/maintenance/status", EMPTY_REQUEST, async () => encodeStatus(await maintenance.status()));
    // etcd's gateway serves HashKV's reply at /hash; /hashkv names it plainly.
    post(["/v3/maintenance/hash", "/v3/maintenance/hashkv"], object({ revision: INT64 }), async (f) => {
      const { header, hash, compactRevision } = await maintenance.hashKv(f.int("revision"));
      return compact({ header: encodeHeader(header), hash, compact_revision: encodeInt(compactRevision) });
    });
    stream("/v3/maintenance/snapshot", EMPTY_REQUEST, async () => snapshotMessages(await maintenance.snapshot()));
    postOnLeader("/v3/maintenance/transfer-leadership", object({ targetID: INT64 }), async (f) => headerOnly(await maintenance.moveLeader(f.int("targetID"))));
    post("/v3/maintenance/alarm", object({ action: enumOf(ALARM_ACTIONS), memberID: INT64, alarm: enumOf(ALARM_TYPES) }), async (f) =>
      encodeAlarmResponse(await maintenance.alarm(decodeAlarmRequest(f))),
    );

    // Lock and campaign take no request id: joining a queue with a lease is idempotent already (the same
    // lease keeps its place), and a retry must be able to join again after a failed attempt left the queue.
    post("/v3/lock/lock", object({ name: BYTES, lease: INT64 }), async (f, { whenClosed }) => {
      const held = await acquireLock(api, f.bytes("name"), f.int("lease"), whenClosed());
      return { header: encodeHeader(held.header), key: encodeBytes(held.key) };
    });
    post("/v3/lock/unlock", object({ key: BYTES }), async (f, { write }) => headerOnly({ header: await releaseLock(api, f.bytes("key"), write) }));

    post("/v3/election/campaign", object({ name: BYTES, lease: INT64, value: BYTES }), async (f, { whenClosed }) => {
      const elected = await campaign(api, f.bytes("name"), f.int("lease"), f.bytes("value"), whenClosed());
      return { header: encodeHeader(elected.header), leader: encodeLeaderKey(elected.leader) };
    });
    post("/v3/election/proclaim", object({ leader: LEADER_KEY, value: BYTES }), async (f, { write }) =>
      headerOnly({ header: await proclaim(api, decodeLeaderKey(f.object("leader")), f.bytes("value"), write) }),
    );
    post("/v3/election/leader", object({ name: BYTES }), async (f) => encodeLeaderView(await currentLeader(api, f.bytes("name"))));
    stream("/v3/election/observe", object({ name: BYTES }), async (f, signal) =>
      mapAsync(observeLeader(api, f.bytes("name"), signal), (view) => ({ result: encodeLeaderView(view) })),
    );
    post("/v3/election/resign", object({ leader: LEADER_KEY }), async (f, { write }) =>
      headerOnly({ header: await resign(api, decodeLeaderKey(f.object("leader")), write) }),
    );
  };
}

/** etcd's snapshot stream: the file in base64 blobs, each saying how many bytes remain after it. */
async function* snapshotMessages(snapshot: Awaited<ReturnType<MaintenanceApi["snapshot"]>>): AsyncIterable<JsonObject> {
  let remaining = snapshot.size;
  for await (const chunk of snapshot.bytes) {
    remaining -= chunk.byteLength;
    yield { result: compact({ header: encodeHeader(snapshot.header), remaining_bytes: encodeInt(remaining), blob: encodeBytes(chunk) }) };
  }
}

/**
 * etcd answers a keep-alive for a lease that does not exist with TTL 0
 * rather than an error: that is how its clients learn the lease is gone.
 */
async function keepAlive(api: KvApi, id: number): Promise<LeaseGrantResponse> {
  try {
    return await api.leaseKeepAlive(id);
  } catch (error) {
    if (isEtcdError(error, "leaseNotFound")) return { header: api.header(), id, ttl: 0 };
    throw error;
  }
}

async function* watchMessages(created: JsonObject, updates: AsyncIterable<WatchUpdate>, watchId: number): AsyncGenerator<JsonObject> {
  yield created;
  for await (const update of updates) yield encodeWatchUpdate(update, watchId);
}

async function* mapAsync<T, U>(source: AsyncIterable<T>, map: (item: T) => U): AsyncGenerator<U> {
  for await (const item of source) yield map(item);
}

/** Newline-separated JSON, as grpc-gateway streams; a failure midway becomes a last `{"error": …}` message. */
async function* jsonLines(messages: AsyncIterable<JsonObject>): AsyncGenerator<string> {
  try {
    for await (const message of messages) yield `${JSON.stringify(message)}\n`;
  } catch (error) {
    yield `${JSON.stringify(encodeStreamError(error))}\n`;
  }
}
