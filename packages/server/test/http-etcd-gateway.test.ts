/** The etcd gateway's pure parts: proto3 JSON in and out, and the store's txn checks its requests meet before proposing. */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { MvccStore } from "@raftkv/mvcc";
import Fastify from "fastify";
import { RaftkvError, etcdError, type EtcdErrorName } from "../src/errors.js";
import { MAX_REQUEST_BYTES } from "../src/recipes/kv.js";
import {
  Fields,
  decodeAlarmRequest,
  decodePutRequest,
  decodeRangeRequest,
  decodeTxnRequest,
  decodeWatchRequest,
  decodeWatchStreamRequest,
} from "../src/http/etcd-gateway/decode.js";
import { JsonValues } from "../src/http/etcd-gateway/json-values.js";
import { jsonNameOf, protoNamesFor } from "../src/http/etcd-gateway/proto-names.js";
import * as schemas from "../src/http/etcd-gateway/schemas.js";
import {
  encodeAlarmResponse,
  encodeDeleteRangeResponse,
  encodeHeader,
  encodeMember,
  encodePutResponse,
  encodeRangeResponse,
  encodeStatus,
  encodeStreamError,
  encodeTimeToLive,
  encodeTxnResponse,
  encodeWatchCreated,
  encodeWatchUpdate,
} from "../src/http/etcd-gateway/encode.js";
import { PUT_REPLY, RANGE_REPLY } from "../src/http/etcd-gateway/schemas.js";
import type { KeyValue, RequestOp, ResponseHeader, TxnRequest } from "../src/kv/api.js";
import { storeCall, toStoreTxn } from "../src/kv/store-mapping.js";

const b64 = (text: string): string => Buffer.from(text).toString("base64");
const bytes = (text: string): Uint8Array => new Uint8Array(Buffer.from(text));
const header: ResponseHeader = { clusterId: 4841639068965178, memberId: 7276657743932975, revision: 7, raftTerm: 2 };
const kv = (key: string, value: string, revision: number): KeyValue => ({
  key: bytes(key),
  value: bytes(value),
  createRevision: revision,
  modRevision: revision,
  version: 1,
  lease: 0,
});

/** Asserts that `run` throws etcd's error of that name. */
function assertEtcdError(run: () => unknown, name: EtcdErrorName): void {
  assert.throws(run, (error: unknown) => error instanceof RaftkvError && error.message === etcdError(name).message);
}

describe("decoding requests", () => {
  test("a range takes int64 fields as strings or numbers, enums by name or number, and defaults the rest", () => {
    const request = decodeRangeRequest(Fields.of({ key: b64("a"), range_end: b64("b"), limit: "10", revision: 3, sort_order: "DESCEND", sort_target: 2 }));
    assert.deepEqual(request.key, bytes("a"));
    assert.deepEqual(request.rangeEnd, bytes("b"));
    assert.equal(request.limit, 10);
    assert.equal(request.revision, 3);
    assert.equal(request.sortOrder, "DESCEND");
    assert.equal(request.sortTarget, "CREATE");
    assert.equal(request.serializable, false);
    assert.equal(request.maxCreateRevision, 0);
  });

  test("errors name the field by its path", () => {
    const body = { success: [{ request_put: { key: b64("a") } }, { request_put: { key: "not base64!" } }] };
    assert.throws(() => decodeTxnRequest(Fields.of(body)), /success\[1\]\.request_put\.key/);
    assert.throws(() => decodeTxnRequest(Fields.of({ failure: [{}] })), /failure\[0\]: a request op needs one of/);
    assert.throws(() => decodeRangeRequest(Fields.of({ sort_order: "SIDEWAYS" })), /sort_order/);
  });

  test("a compare reads its operand from the field its target names", () => {
    const txn = decodeTxnRequest(
      Fields.of({
        compare: [
          { key: b64("k"), target: "MOD", result: "LESS", mod_revision: "9", version: "1" },
          { key: b64("k"), target: "VALUE", value: b64("v") },
          { key: b64("k"), target: "CREATE" },
        ],
      }),
    );
    assert.deepEqual(
      txn.compare.map(({ result, target, operand }) => ({ result, target, operand })),
      [
        { result: "LESS", target: "MOD", operand: 9 },
        { result: "EQUAL", target: "VALUE", operand: bytes("v") },
        { result: "EQUAL", target: "CREATE", operand: 0 },
      ],
    );
  });

  test("txns nest, with every kind of op", () => {
    const txn = decodeTxnRequest(
      Fields.of({
        success: [{ request_range: { key: b64("a") } }, { request_txn: { failure: [{ request_delete_range: { key: b64("b"), prev_kv: true } }] } }],
      }),
    );
    const nested = txn.success[1];
    assert.ok(nested && "txn" in nested);
    assert.deepEqual(nested.txn.failure, [{ deleteRange: { key: bytes("b"), rangeEnd: new Uint8Array(), prevKv: true } }]);
  });

  test("a put whose key and value exceed the request limit is refused", () => {
    const value = Buffer.alloc(MAX_REQUEST_BYTES).toString("base64");
    assertEtcdError(() => decodePutRequest(Fields.of({ key: b64("k"), value })), "requestTooLarge");
  });

  test("a watch needs a create_request; filters and the client's watch id are read", () => {
    const { request, watchId } = decodeWatchRequest(
      Fields.of({ create_request: { key: b64("a"), start_revision: "5", filters: ["NOPUT", 1], prev_kv: true, watch_id: "3" } }),
    );
    assert.equal(request.startRevision, 5);
    assert.equal(request.noPut, true);
    assert.equal(request.noDelete, true);
    assert.equal(request.prevKv, true);
    assert.equal(watchId, 3);
    assert.throws(() => decodeWatchRequest(Fields.of({ cancel_request: { watch_id: "1" } })), /create_request/);
  });
});

describe("proto3 JSON names", () => {
  const txnNames = protoNamesFor(schemas.TXN_REQUEST_REF, schemas.SHARED_SCHEMAS);

  test("a field's JSON name is protoc's: underscores dropped, the next letter capitalized, the first letter kept", () => {
    const names = ["range_end", "prev_kv", "min_mod_revision", "ID", "TTL", "peerURLs", "memberID", "key", "no_password"].map(jsonNameOf);
    assert.deepEqual(names, ["rangeEnd", "prevKv", "minModRevision", "ID", "TTL", "peerURLs", "memberID", "key", "noPassword"]);
  });

  test("JSON names become proto names in every nested message of a txn, the txns nested in it too", () => {
    const [a, b] = [b64("a"), b64("b")];
    const body = {
      compare: [{ key: a, rangeEnd: b, modRevision: "3", target: "MOD" }],
      success: [{ requestPut: { key: a, prevKv: true, ignoreLease: true } }, { requestTxn: { failure: [{ requestDeleteRange: { key: a, rangeEnd: b } }] } }],
      failure: [{ request_range: { key: a, keysOnly: true } }],
    };
    assert.deepEqual(txnNames(body), {
      compare: [{ key: a, range_end: b, mod_revision: "3", target: "MOD" }],
      success: [
        { request_put: { key: a, prev_kv: true, ignore_lease: true } },
        { request_txn: { failure: [{ request_delete_range: { key: a, range_end: b } }] } },
      ],
      failure: [{ request_range: { key: a, keys_only: true } }],
    });
    const decoded = decodeTxnRequest(Fields.of(txnNames(body)));
    assert.equal(decoded.compare[0]?.operand, 3);
    assert.deepEqual(decoded.success[0], {
      put: { key: new Uint8Array(Buffer.from("a")), value: new Uint8Array(), lease: 0, prevKv: true, ignoreValue: false, ignoreLease: true },
    });
  });

  test("given both names, the JSON name wins; unknown fields and what is not an object are left as they are", () => {
    const rangeNames = protoNamesFor(schemas.RANGE_REQUEST, schemas.SHARED_SCHEMAS);
    assert.deepEqual(rangeNames({ rangeEnd: "b", range_end: "c" }), { range_end: "b" });
    assert.deepEqual(rangeNames({ range_end: "c", rangeEnd: null }), { range_end: null });
    assert.deepEqual(rangeNames({ RangeEnd: "b", surprise: { rangeEnd: 1 } }), { RangeEnd: "b", surprise: { rangeEnd: 1 } });
    for (const body of [[{ rangeEnd: "b" }], "rangeEnd", null, 5]) assert.equal(rangeNames(body), body);
    const untouched = { key: "a", range_end: "b" };
    assert.equal(rangeNames(untouched), untouched, "a body already in proto names is not copied");
  });

  test("watch requests map create, cancel and progress requests by either name", () => {
    const watchNames = protoNamesFor(schemas.WATCH_REQUEST, schemas.SHARED_SCHEMAS);
    assert.deepEqual(decodeWatchStreamRequest(Fields.of(watchNames({ cancelRequest: { watchId: "4" } }))), { cancel: 4 });
    assert.deepEqual(decodeWatchStreamRequest(Fields.of(watchNames({ progressRequest: {} }))), { progress: true });
    assert.deepEqual(decodeWatchStreamRequest(Fields.of({})), { none: true });
    const { create } = decodeWatchStreamRequest(Fields.of(watchNames({ createRequest: { key: b64("a"), startRevision: 9, watchId: 2, prevKv: true } }))) as {
      create: { request: { startRevision: number; prevKv: boolean }; watchId: number };
    };
    assert.deepEqual([create.request.startRevision, create.request.prevKv, create.watchId], [9, true, 2]);
  });
});

describe("a stream of JSON values", () => {
  test("values are cut whole: several in one piece, one across pieces, strings holding brackets", () => {
    const values = new JsonValues(10_000);
    assert.deepEqual(values.push('{"a":1}{"b":[2]}\n'), [{ a: 1 }, { b: [2] }]);
    assert.deepEqual(values.push('{"c":"}{\\""'), []);
    assert.deepEqual(values.push(',"d":{"e":null}}\n 7 \n'), [{ c: '}{"', d: { e: null } }, 7]);
    assert.deepEqual(values.push("  \n"), []);
    assert.deepEqual(values.push('{"e":"x\\'), [], "a piece may end inside an escape");
    assert.deepEqual(values.push('"y"}'), [{ e: 'x"y' }]);
    const key = "k".repeat(5000);
    const pieces = [...JSON.stringify({ key })].flatMap((char) => values.push(char));
    assert.deepEqual(pieces, [{ key }], "one character at a time");
  });

  test("a bad value is an InvalidArgument at once, as is a value that grows past the limit", () => {
    assert.throws(
      () => new JsonValues(1000).push('{"bad\n'),
      (error: RaftkvError) => error.grpcCode === 3 && /invalid JSON/.test(error.message),
    );
    assert.throws(() => new JsonValues(1000).push("{1}\n"), /invalid JSON/);
    assert.throws(() => new JsonValues(8).push('{"key":"0123456789"'), /too large/);
  });
});

describe("checking a txn before proposing it, with the store's rules", () => {
  /** etcd's default --max-txn-ops, the store's default. */
  const MAX_TXN_OPS = 128;
  let dir: string;
  let store: MvccStore;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "raftkv-txn-check-"));
    store = await MvccStore.open(dir);
  });
  after(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** What the service does with a txn before proposing it. */
  const validateTxn = (request: TxnRequest): void => storeCall(() => store.validate({ op: "txn", ...toStoreTxn(request) }));
  const put = (key: string): RequestOp => ({ put: decodePutRequest(Fields.of({ key: b64(key) })) });
  const read = (key: string): RequestOp => ({ range: decodeRangeRequest(Fields.of({ key: b64(key) })) });
  const remove = (key: string, rangeEnd = ""): RequestOp => ({ deleteRange: { key: bytes(key), rangeEnd: bytes(rangeEnd), prevKv: false } });
  const txn = (success: RequestOp[], failure: RequestOp[] = []): TxnRequest => ({ compare: [], success, failure });
  const nested = (success: RequestOp[], failure: RequestOp[] = []): RequestOp => ({ txn: txn(success, failure) });
  const keys = (count: number): RequestOp[] => Array.from({ length: count }, (_, i) => put(`k${i}`));
  const reads = (count: number): RequestOp[] => Array.from({ length: count }, (_, i) => read(`k${i}`));

  test(`up to ${MAX_TXN_OPS} ops a branch pass; one more is too many`, () => {
    validateTxn(txn(keys(MAX_TXN_OPS), keys(MAX_TXN_OPS)));
    assertEtcdError(() => validateTxn(txn(keys(MAX_TXN_OPS + 1))), "tooManyOps");
  });

  test("a nested txn gets only what its parent's longest list left, as in etcd", () => {
    validateTxn(txn([nested(reads(MAX_TXN_OPS - 1))]));
    assertEtcdError(() => validateTxn(txn([nested(reads(MAX_TXN_OPS))])), "tooManyOps");
    assertEtcdError(() => validateTxn(txn([read("a"), read("b")], [nested([], reads(MAX_TXN_OPS - 1))])), "tooManyOps");
    assert.equal(etcdError("tooManyOps").message, "etcdserver: too many operations in txn request");
  });

  test("a branch may not put one key twice, even through a nested txn", () => {
    assertEtcdError(() => validateTxn(txn([put("a"), put("a")])), "duplicateKey");
    assertEtcdError(() => validateTxn(txn([put("a"), nested([put("a")])])), "duplicateKey");
  });

  test("a branch may not put a key it deletes: one key, a range, or everything from a key on", () => {
    assertEtcdError(() => validateTxn(txn([remove("a"), put("a")])), "duplicateKey");
    assertEtcdError(() => validateTxn(txn([remove("a", "c"), put("b")])), "duplicateKey");
    assertEtcdError(() => validateTxn(txn([remove("a", "\0"), put("zzz")])), "duplicateKey");
    assertEtcdError(() => validateTxn(txn([nested([remove("a", "c")]), put("b")])), "duplicateKey");
  });

  test("what cannot conflict passes: the two branches, then and else of a nested txn, overlapping deletes, a put past a range end", () => {
    validateTxn(txn([put("a")], [put("a")]));
    validateTxn(txn([nested([put("a")], [put("a")])]));
    validateTxn(txn([remove("a", "c"), remove("b", "d")]));
    validateTxn(txn([remove("a", "c"), put("c"), remove("x"), put("xy")]));
  });
});

describe("encoding responses", () => {
  test("a header carries its 64-bit fields as strings", () => {
    assert.deepEqual(encodeHeader(header), {
      cluster_id: "4841639068965178",
      member_id: "7276657743932975",
      revision: "7",
      raft_term: "2",
    });
  });

  test("zero values are left out: an empty range has neither kvs nor count, and more:false is omitted", () => {
    assert.deepEqual(encodeRangeResponse({ header, kvs: [], more: false, count: 0 }), { header: encodeHeader(header) });
    assert.deepEqual(encodeRangeResponse({ header, kvs: [{ ...kv("a", "", 3), version: 2 }], more: true, count: 5 }), {
      header: encodeHeader(header),
      kvs: [{ key: b64("a"), create_revision: "3", mod_revision: "3", version: "2" }],
      more: true,
      count: "5",
    });
  });

  test("the reply schemas of range and put keep every field the encoders write", async () => {
    const full: KeyValue = { ...kv("a", "x", 3), version: 2, lease: 9 };
    const replies: [object, Readonly<Record<string, unknown>>][] = [
      [RANGE_REPLY, encodeRangeResponse({ header, kvs: [full, kv("b", "y", 4)], more: true, count: 5 })],
      [RANGE_REPLY, encodeRangeResponse({ header, kvs: [], more: false, count: 0 })],
      [PUT_REPLY, encodePutResponse({ header, prevKv: full })],
      [PUT_REPLY, encodePutResponse({ header })],
    ];
    const app = Fastify();
    for (const [i, [schema, body]] of replies.entries()) app.get(`/${i}`, { schema: { response: { 200: schema } } }, async () => body);
    for (const [i, [, body]] of replies.entries()) {
      const served = await app.inject({ method: "GET", url: `/${i}` });
      assert.equal(served.body, JSON.stringify(body));
    }
    await app.close();
  });

  test("txn responses nest under response_* names; nested headers carry the revision alone, a nested txn's nothing, as etcd's", () => {
    const response = encodeTxnResponse({
      header,
      succeeded: true,
      responses: [
        { deleteRange: { header, deleted: 1, prevKvs: [kv("a", "x", 2)] } },
        { txn: { header, succeeded: false, responses: [{ range: { header, kvs: [], more: false, count: 0 } }] } },
      ],
    });
    const revision = { revision: String(header.revision) };
    assert.deepEqual(response, {
      header: encodeHeader(header),
      succeeded: true,
      responses: [
        { response_delete_range: { ...encodeDeleteRangeResponse({ header, deleted: 1, prevKvs: [kv("a", "x", 2)] }), header: revision } },
        { response_txn: { header: {}, responses: [{ response_range: { header: revision } }] } },
      ],
    });
  });

  test("watch messages: created, events (PUT is the zero type, left out), progress, and a compacted cancel", () => {
    assert.deepEqual(encodeWatchCreated(header, 0), { result: { header: encodeHeader(header), created: true } });
    const events = encodeWatchUpdate(
      {
        kind: "events",
        header,
        events: [
          { type: "PUT", kv: kv("a", "1", 8) },
          { type: "DELETE", kv: kv("b", "", 8), prevKv: kv("b", "2", 4) },
        ],
      },
      4,
    );
    assert.deepEqual(events, {
      result: {
        header: encodeHeader(header),
        watch_id: "4",
        events: [
          { kv: { key: b64("a"), create_revision: "8", mod_revision: "8", version: "1", value: b64("1") } },
          {
            type: "DELETE",
            kv: { key: b64("b"), create_revision: "8", mod_revision: "8", version: "1" },
            prev_kv: { key: b64("b"), create_revision: "4", mod_revision: "4", version: "1", value: b64("2") },
          },
        ],
      },
    });
    assert.deepEqual(encodeWatchUpdate({ kind: "progress", header }, 0), { result: { header: encodeHeader(header) } });
    assert.deepEqual(encodeWatchUpdate({ kind: "compacted", header, compactRevision: 5 }, 0), {
      result: { header: encodeHeader(header), canceled: true, compact_revision: "5" },
    });
  });

  test("lease, member and status replies use etcd's camelCase names", () => {
    assert.deepEqual(encodeTimeToLive({ header, id: 9, ttl: -1, grantedTtl: 0, keys: [bytes("k")] }), {
      header: encodeHeader(header),
      ID: "9",
      TTL: "-1",
      keys: [b64("k")],
    });
    assert.deepEqual(encodeMember({ id: 12, name: "n1", peerUrls: ["http://p:2380"], clientUrls: [], isLearner: true }), {
      ID: "12",
      name: "n1",
      peerURLs: ["http://p:2380"],
      isLearner: true,
    });
    const status = encodeStatus({
      header,
      version: "3.4.0",
      dbSize: 4096,
      dbSizeInUse: 4096,
      leader: 12,
      raftIndex: 30,
      raftTerm: 2,
      raftAppliedIndex: 30,
      isLearner: false,
      errors: [],
    });
    assert.deepEqual(status, {
      header: encodeHeader(header),
      version: "3.4.0",
      dbSize: "4096",
      leader: "12",
      raftIndex: "30",
      raftTerm: "2",
      raftAppliedIndex: "30",
      dbSizeInUse: "4096",
    });
  });

  test("alarm requests and replies use etcd's names; GET and NONE are the zero values", () => {
    assert.deepEqual(decodeAlarmRequest(Fields.of({})), { action: "GET", memberId: 0, alarm: "NONE" });
    assert.deepEqual(decodeAlarmRequest(Fields.of({ action: "DEACTIVATE", memberID: "12", alarm: 2 })), {
      action: "DEACTIVATE",
      memberId: 12,
      alarm: "CORRUPT",
    });
    assert.throws(() => decodeAlarmRequest(Fields.of({ alarm: "ONFIRE" })), /alarm/);
    assert.deepEqual(encodeAlarmResponse({ header, alarms: [{ memberId: 12, alarm: "CORRUPT" }] }), {
      header: encodeHeader(header),
      alarms: [{ memberID: "12", alarm: "CORRUPT" }],
    });
    assert.deepEqual(encodeAlarmResponse({ header, alarms: [] }), { header: encodeHeader(header) });
  });

  test("a failure midway through a stream is reported as grpc-gateway does", () => {
    const error = etcdError("noLeader");
    assert.deepEqual(encodeStreamError(error), {
      error: { grpc_code: 14, http_code: 503, message: "etcdserver: no leader", http_status: "Service Unavailable" },
    });
    assert.deepEqual(encodeStreamError(new Error("boom")), {
      error: { grpc_code: 13, http_code: 500, message: "boom", http_status: "Internal Server Error" },
    });
  });
});
