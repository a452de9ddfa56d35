/**
 * Body schemas of the etcd v3 gateway: int64 fields accept a number or a
 * decimal string, enums a name or a number, bytes a (base64) string checked
 * when decoded. Reply schemas for the hottest routes.
 */
import { listOf, object, type Schema } from "../schema.js";
import { ALARM_ACTIONS, ALARM_TYPES, COMPARE_RESULTS, COMPARE_TARGETS, SORT_ORDERS, SORT_TARGETS, WATCH_FILTERS } from "./decode.js";

const INT64: Schema = { anyOf: [{ type: "integer" }, { type: "string", pattern: "^-?[0-9]+$" }] };
const BYTES: Schema = { type: "string" };
const BOOL: Schema = { type: "boolean" };
const STRINGS: Schema = { type: "array", items: { type: "string" } };

function enumOf(names: readonly string[]): Schema {
  return {
    anyOf: [
      { type: "string", enum: names },
      { type: "integer", minimum: 0, maximum: names.length - 1 },
    ],
  };
}

export const EMPTY_REQUEST = object({});
export const ID_REQUEST = object({ ID: INT64 });

export const RANGE_REQUEST = object({
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
export const PUT_REQUEST = object({ key: BYTES, value: BYTES, lease: INT64, prev_kv: BOOL, ignore_value: BOOL, ignore_lease: BOOL });
export const DELETE_RANGE_REQUEST = object({ key: BYTES, range_end: BYTES, prev_kv: BOOL });
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
export const TXN_REQUEST_REF: Schema = { $ref: `${TXN_SCHEMA_ID}#` };
const REQUEST_OP = object({
  request_range: RANGE_REQUEST,
  request_put: PUT_REQUEST,
  request_delete_range: DELETE_RANGE_REQUEST,
  request_txn: TXN_REQUEST_REF,
});
export const TXN_REQUEST: Schema = { $id: TXN_SCHEMA_ID, ...object({ compare: listOf(COMPARE), success: listOf(REQUEST_OP), failure: listOf(REQUEST_OP) }) };
/** The schemas other schemas refer to, by id. */
export const SHARED_SCHEMAS: ReadonlyMap<string, Schema> = new Map([[TXN_SCHEMA_ID, TXN_REQUEST]]);

export const WATCH_REQUEST = object({
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
  cancel_request: object({ watch_id: INT64 }),
  progress_request: object({}),
});
const LEADER_KEY = object({ name: BYTES, key: BYTES, rev: INT64, lease: INT64 });

export const COMPACTION_REQUEST = object({ revision: INT64, physical: BOOL });
export const LEASE_GRANT_REQUEST = object({ TTL: INT64, ID: INT64 });
export const LEASE_TIME_TO_LIVE_REQUEST = object({ ID: INT64, keys: BOOL });
export const MEMBER_ADD_REQUEST = object({ peerURLs: STRINGS, isLearner: BOOL });
export const MEMBER_UPDATE_REQUEST = object({ ID: INT64, peerURLs: STRINGS });
export const HASH_KV_REQUEST = object({ revision: INT64 });
export const TRANSFER_LEADERSHIP_REQUEST = object({ targetID: INT64 });
export const ALARM_REQUEST = object({ action: enumOf(ALARM_ACTIONS), memberID: INT64, alarm: enumOf(ALARM_TYPES) });
export const LOCK_REQUEST = object({ name: BYTES, lease: INT64 });
export const UNLOCK_REQUEST = object({ key: BYTES });
export const CAMPAIGN_REQUEST = object({ name: BYTES, lease: INT64, value: BYTES });
export const PROCLAIM_REQUEST = object({ leader: LEADER_KEY, value: BYTES });
export const ELECTION_NAME_REQUEST = object({ name: BYTES });
export const RESIGN_REQUEST = object({ leader: LEADER_KEY });

// Reply schemas of the hottest routes: fastify compiles them into a
// serializer that writes these fields directly instead of walking the object
// as JSON.stringify does. They must name every field the encoder can produce;
// the encoders' tests check the compiled output against JSON.stringify.
const STRING: Schema = { type: "string" };
const HEADER_REPLY = object({ cluster_id: STRING, member_id: STRING, revision: STRING, raft_term: STRING });
const KV_REPLY = object({ key: STRING, create_revision: STRING, mod_revision: STRING, version: STRING, value: STRING, lease: STRING });
export const RANGE_REPLY = object({ header: HEADER_REPLY, kvs: listOf(KV_REPLY), more: BOOL, count: STRING });
export const PUT_REPLY = object({ header: HEADER_REPLY, prev_kv: KV_REPLY });
