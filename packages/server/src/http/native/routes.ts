/**
 * raftkv's native HTTP API, for people with curl: the key in the URL, the
 * raw value as the body, no base64, revisions in X-Raftkv-* headers,
 * compare-and-set by revision, watches as Server-Sent Events, and locks and
 * a service registry built on the same store.
 */
import type { NativeDeleteReply, NativeKvList, NativePutReply } from "@raftkv/client";
import type { FastifyInstance, FastifyReply } from "fastify";
import { GrpcCode, RaftkvError, etcdError, invalidArgument } from "../../errors.js";
import type { AuthService } from "../../services/auth.js";
import { identifyRequests } from "../auth-context.js";
import type { KvApi, MemberApis, RequestOp, ResponseHeader, ResponseOp, WriteOptions } from "../../kv/api.js";
import {
  assertPutFits,
  compareEqual,
  deleteRangeRequest,
  firstReadBack,
  fromUtf8,
  prefixEnd,
  putRequest,
  rangeRequest,
  readBack,
  utf8,
} from "../../recipes/kv.js";
import { acquireLockWithNewLease, releaseLockAndLease } from "../../recipes/lock.js";
import { deregisterInstance, heartbeat, listInstances, parseRegistration, registerInstance, serviceChangeOf, servicePrefix } from "../../recipes/services.js";
import { watchUpdates } from "../../recipes/watch.js";
import { abortWhenClosed, parseAnyBodyAsBytes } from "../app.js";
import { IDEMPOTENCY_KEY_HEADERS, writeOptionsOf, type IdempotencyKeyHeaders } from "../idempotency-key.js";
import { object } from "../schema.js";
import { afterOpening, sendSse, sseOfUpdates, startRevisionOf, withRevisionIds } from "../sse.js";
import {
  COMPARE_FAILED_REPLY,
  DELETE_REPLY,
  ENCODING,
  FLAG,
  INSTANCE_PARAMS,
  INSTANCE_REPLY,
  INTEGER,
  KV_LIST_REPLY,
  LAST_EVENT_ID,
  NAME_PARAMS,
  REVISION,
  WRITE_REPLY,
  replies,
} from "./schemas.js";
import { kvEventMessages, nativeKv, serviceMessages, type TextEncoding } from "./views.js";

const DEFAULT_LOCK_TTL_SECONDS = 60;

// ---------------------------------------------------------------------------
// Writes guarded by a revision

type GuardedWrite =
  | { readonly kind: "written"; readonly header: ResponseHeader; readonly response: ResponseOp | undefined }
  | { readonly kind: "compare failed"; readonly currentRevision: number };

/**
 * Runs `op` on `key`, only if the key's mod revision is `expected` when one
 * is given (0: only if the key does not exist). One txn either way, so a
 * failed compare reports the revision it saw.
 */
async function writeIfRevision(api: KvApi, key: Uint8Array, expected: number | undefined, op: RequestOp, options: WriteOptions): Promise<GuardedWrite> {
  const guarded = expected !== undefined;
  const reply = await api.txn(
    { compare: guarded ? [compareEqual(key, "MOD", expected)] : [], success: [op], failure: guarded ? [readBack(key)] : [] },
    options,
  );
  if (!reply.succeeded) return { kind: "compare failed", currentRevision: firstReadBack(reply.responses)?.modRevision ?? 0 };
  return { kind: "written", header: reply.header, response: reply.responses[0] };
}

function replyCompareFailed(reply: FastifyReply, expected: number, currentRevision: number): FastifyReply {
  const message = `compare failed: the key's mod revision is ${currentRevision}, not ${expected}`;
  return reply.status(412).send({ error: "compare failed", code: GrpcCode.FailedPrecondition, message, current_revision: currentRevision });
}

/** A query flag is on when present, unless it says `false` or `0`. */
function isOn(flag: string | undefined): boolean {
  return flag !== undefined && flag !== "false" && flag !== "0";
}

// ---------------------------------------------------------------------------
// Routes

type Flag = string | undefined;

interface KeyParams {
  readonly "*": string;
}

interface KvReadQuery {
  readonly prefix?: Flag;
  readonly revision?: number;
  readonly consistency?: "linearizable" | "serializable";
  readonly limit?: number;
  readonly keys_only?: Flag;
  readonly encoding: TextEncoding;
}

interface KvWriteQuery {
  readonly prefix?: Flag;
  readonly lease?: number;
  readonly prev_revision?: number;
}

interface WatchQuery {
  readonly prefix?: Flag;
  readonly revision?: number;
  readonly prev_kv?: Flag;
  readonly encoding: TextEncoding;
}

interface ResumeHeaders {
  readonly "last-event-id"?: string;
}

/** Every route runs on the services as the request's identity may use them (Bearer token or HTTP Basic). */
export function nativePlugin(apis: MemberApis, auth: AuthService) {
  return async (app: FastifyInstance): Promise<void> => {
    parseAnyBodyAsBytes(app);
    identifyRequests(app, { auth, apis, scheme: "bearer-or-basic" });
    registerKvRoutes(app);
    registerWatchRoute(app);
    registerLockRoutes(app);
    registerServiceRoutes(app);
  };
}

function registerKvRoutes(app: FastifyInstance): void {
  const readQuery = object({
    prefix: FLAG,
    revision: REVISION,
    consistency: { type: "string", enum: ["linearizable", "serializable"] },
    limit: { type: "integer", minimum: 0 },
    keys_only: FLAG,
    encoding: ENCODING,
  });
  const rawOrList = {
    content: { "application/octet-stream": { schema: { type: "string" } }, "application/json": { schema: KV_LIST_REPLY } },
  };
  app.get<{ Params: KeyParams; Querystring: KvReadQuery }>(
    "/v1/kv/*",
    { schema: { querystring: readQuery, response: replies(rawOrList) } },
    async (request, reply) => {
      const { prefix, revision = 0, consistency, limit = 0, keys_only, encoding } = request.query;
      const key = utf8(request.params["*"]);
      const listing = isOn(prefix);
      if (!listing && key.byteLength === 0) throw etcdError("emptyKey");
      const range = await request.apis.kv.range(
        rangeRequest(key, {
          rangeEnd: listing ? prefixEnd(key) : new Uint8Array(),
          limit,
          revision,
          serializable: consistency === "serializable",
          keysOnly: isOn(keys_only),
        }),
      );
      reply.header("x-raftkv-revision", range.header.revision);
      if (listing) {
        const list: NativeKvList = {
          revision: range.header.revision,
          count: range.count,
          more: range.more,
          kvs: range.kvs.map((kv) => nativeKv(kv, encoding)),
        };
        return reply.type("application/json").send(list);
      }
      const kv = range.kvs[0];
      if (!kv) throw new RaftkvError(GrpcCode.NotFound, "key not found");
      return reply
        .headers({
          "x-raftkv-mod-revision": kv.modRevision,
          "x-raftkv-create-revision": kv.createRevision,
          "x-raftkv-version": kv.version,
          "x-raftkv-lease": kv.lease,
        })
        .type("application/octet-stream")
        .send(Buffer.from(kv.value));
    },
  );

  app.put<{ Params: KeyParams; Querystring: KvWriteQuery; Headers: IdempotencyKeyHeaders; Body: Buffer }>(
    "/v1/kv/*",
    {
      schema: {
        querystring: object({ lease: INTEGER, prev_revision: REVISION }),
        headers: IDEMPOTENCY_KEY_HEADERS,
        response: replies(WRITE_REPLY, { 412: COMPARE_FAILED_REPLY }),
      },
    },
    async (request, reply) => {
      const { lease = 0, prev_revision: expected } = request.query;
      const key = utf8(request.params["*"]);
      const value = request.body ?? Buffer.alloc(0);
      assertPutFits(key, value);
      const put = { put: putRequest(key, value, { lease }) };
      const outcome = await writeIfRevision(request.apis.kv, key, expected, put, writeOptionsOf(request.headers));
      if (outcome.kind === "compare failed") return replyCompareFailed(reply, expected ?? 0, outcome.currentRevision);
      const written: NativePutReply = { revision: outcome.header.revision };
      return reply.header("x-raftkv-revision", written.revision).send(written);
    },
  );

  app.delete<{ Params: KeyParams; Querystring: KvWriteQuery; Headers: IdempotencyKeyHeaders }>(
    "/v1/kv/*",
    {
      schema: {
        querystring: object({ prefix: FLAG, prev_revision: REVISION }),
        headers: IDEMPOTENCY_KEY_HEADERS,
        response: replies(DELETE_REPLY, { 412: COMPARE_FAILED_REPLY }),
      },
    },
    async (request, reply) => {
      const { prefix, prev_revision: expected } = request.query;
      const key = utf8(request.params["*"]);
      const deleting = isOn(prefix) ? prefixEnd(key) : new Uint8Array();
      if (expected !== undefined && deleting.byteLength > 0) throw invalidArgument("prev_revision guards one key: it cannot go with prefix");
      const deletion = { deleteRange: deleteRangeRequest(key, { rangeEnd: deleting }) };
      const outcome = await writeIfRevision(request.apis.kv, key, expected, deletion, writeOptionsOf(request.headers));
      if (outcome.kind === "compare failed") return replyCompareFailed(reply, expected ?? 0, outcome.currentRevision);
      const deleted = outcome.response && "deleteRange" in outcome.response ? outcome.response.deleteRange.deleted : 0;
      const removed: NativeDeleteReply = { deleted, revision: outcome.header.revision };
      return reply.header("x-raftkv-revision", removed.revision).send(removed);
    },
  );
}

function registerWatchRoute(app: FastifyInstance): void {
  const query = object({ prefix: FLAG, revision: REVISION, prev_kv: FLAG, encoding: ENCODING });
  app.get<{ Params: KeyParams; Querystring: WatchQuery; Headers: ResumeHeaders }>(
    "/v1/watch/*",
    { schema: { querystring: query, headers: LAST_EVENT_ID } },
    async (request, reply) => {
      const { prefix, revision, prev_kv, encoding } = request.query;
      const key = utf8(request.params["*"]);
      const withPrevious = isOn(prev_kv);
      const updates = await watchUpdates(
        request.apis.kv,
        {
          key,
          rangeEnd: isOn(prefix) ? prefixEnd(key) : new Uint8Array(),
          startRevision: startRevisionOf(request.headers["last-event-id"], revision),
          prevKv: withPrevious,
          noPut: false,
          noDelete: false,
          progressNotify: false,
        },
        abortWhenClosed(reply.raw),
      );
      return sendSse(
        reply,
        afterOpening(
          [],
          sseOfUpdates(updates, (events) => kvEventMessages(events, encoding, withPrevious)),
        ),
      );
    },
  );
}

function registerLockRoutes(app: FastifyInstance): void {
  const lockReply = object({ key: { type: "string" }, token: INTEGER, lease: INTEGER });
  app.post<{ Params: { name: string }; Querystring: { ttl?: number } }>(
    "/v1/locks/:name",
    { schema: { params: NAME_PARAMS, querystring: object({ ttl: { type: "integer", minimum: 1 } }), response: replies(lockReply) } },
    async (request, reply) => {
      const ttl = request.query.ttl ?? DEFAULT_LOCK_TTL_SECONDS;
      const held = await acquireLockWithNewLease(request.apis.kv, utf8(request.params.name), ttl, abortWhenClosed(reply.raw));
      return { key: fromUtf8(held.key), token: held.token, lease: held.lease };
    },
  );
  app.delete<{ Params: { name: string }; Querystring: { key: string } }>(
    "/v1/locks/:name",
    {
      schema: {
        params: NAME_PARAMS,
        querystring: object({ key: { type: "string", minLength: 1 } }, ["key"]),
        response: replies(object({ released: { type: "boolean" }, revision: INTEGER })),
      },
    },
    async (request) => {
      const header = await releaseLockAndLease(request.apis.kv, utf8(request.params.name), utf8(request.query.key));
      return { released: true, revision: header.revision };
    },
  );
}

function registerServiceRoutes(app: FastifyInstance): void {
  const registered = object({ id: { type: "string" }, lease: INTEGER, ttl: INTEGER, revision: INTEGER });
  app.post<{ Params: { name: string }; Body: Buffer }>(
    "/v1/services/:name",
    { schema: { params: NAME_PARAMS, response: replies(registered) } },
    async (request) => {
      const registration = parseRegistration(request.body ?? Buffer.alloc(0));
      return { id: registration.id, ...(await registerInstance(request.apis.kv, request.params.name, registration)) };
    },
  );
  app.put<{ Params: { name: string; id: string }; Querystring: { lease?: number } }>(
    "/v1/services/:name/:id/heartbeat",
    {
      schema: {
        params: INSTANCE_PARAMS,
        querystring: object({ lease: INTEGER }),
        response: replies(object({ id: { type: "string" }, lease: INTEGER, ttl: INTEGER })),
      },
    },
    async (request) => {
      const { name, id } = request.params;
      return { id, ...(await heartbeat(request.apis.kv, name, id, request.query.lease)) };
    },
  );
  app.delete<{ Params: { name: string; id: string } }>(
    "/v1/services/:name/:id",
    { schema: { params: INSTANCE_PARAMS, response: replies(object({ deregistered: { type: "boolean" }, revision: INTEGER })) } },
    async (request) => ({ deregistered: true, ...(await deregisterInstance(request.apis.kv, request.params.name, request.params.id)) }),
  );
  app.get<{ Params: { name: string }; Querystring: { watch?: Flag }; Headers: ResumeHeaders }>(
    "/v1/services/:name",
    {
      schema: {
        params: NAME_PARAMS,
        querystring: object({ watch: FLAG }),
        headers: LAST_EVENT_ID,
        response: replies(object({ revision: INTEGER, instances: { type: "array", items: INSTANCE_REPLY } })),
      },
    },
    async (request, reply) => {
      const { name } = request.params;
      if (!isOn(request.query.watch)) return listInstances(request.apis.kv, name);
      return watchService(request.apis.kv, name, request.headers["last-event-id"], reply);
    },
  );
}

/**
 * Streams a service's instances: all of them as `register` events first
 * (unless the client resumes with Last-Event-ID), then every change.
 */
async function watchService(api: KvApi, name: string, lastEventId: string | undefined, reply: FastifyReply): Promise<FastifyReply> {
  const current = lastEventId === undefined ? await listInstances(api, name) : undefined;
  const initial = current ? withRevisionIds(current.instances.map((instance) => ({ revision: current.revision, event: "register", data: instance }))) : [];
  const prefix = servicePrefix(name);
  const startRevision = current ? current.revision + 1 : startRevisionOf(lastEventId, undefined);
  const updates = await watchUpdates(
    api,
    { key: prefix, rangeEnd: prefixEnd(prefix), startRevision, prevKv: false, noPut: false, noDelete: false, progressNotify: false },
    abortWhenClosed(reply.raw),
  );
  return sendSse(
    reply,
    afterOpening(
      initial,
      sseOfUpdates(updates, (events) => serviceMessages(events.flatMap((event) => serviceChangeOf(event) ?? []))),
    ),
  );
}
