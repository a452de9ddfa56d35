/**
 * raftkv's native HTTP API, for people with curl: the key in the URL, the
 * raw value as the body, no base64, revisions in X-Raftkv-* headers,
 * compare-and-set by revision, watches as Server-Sent Events, and locks and
 * a service registry built on the same store.
 */
import { Readable } from "node:stream";
import type { FastifyInstance, FastifyReply } from "fastify";
import { GrpcCode, RaftkvError, etcdError, invalidArgument } from "../errors.js";
import type { Event, KeyValue, KvApi, RequestOp, ResponseHeader, ResponseOp, WatchUpdate, WriteOptions } from "../kv/api.js";
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
} from "../recipes/kv.js";
import { acquireLockWithNewLease, releaseLockAndLease } from "../recipes/lock.js";
import {
  deregisterInstance,
  heartbeat,
  listInstances,
  parseRegistration,
  registerInstance,
  serviceChangeOf,
  servicePrefix,
  type ServiceChange,
} from "../recipes/services.js";
import { abortWhenClosed, watchUpdates } from "../recipes/watch.js";
import { parseAnyBodyAsBytes } from "./app.js";
import { IDEMPOTENCY_KEY_HEADERS, writeOptionsOf, type IdempotencyKeyHeaders } from "./idempotency-key.js";

export const KEEP_ALIVE_INTERVAL_MS = 15_000;
export const DEFAULT_LOCK_TTL_SECONDS = 60;

/** How keys and values appear in JSON: UTF-8 text by default, base64 for binary data. */
export type TextEncoding = "utf8" | "base64";

// ---------------------------------------------------------------------------
// JSON views of the store

export interface NativeKv {
  readonly key: string;
  readonly value: string;
  readonly create_revision: number;
  readonly mod_revision: number;
  readonly version: number;
  readonly lease: number;
}

export function nativeKv(kv: KeyValue, encoding: TextEncoding): NativeKv {
  return {
    key: asText(kv.key, encoding),
    value: asText(kv.value, encoding),
    create_revision: kv.createRevision,
    mod_revision: kv.modRevision,
    version: kv.version,
    lease: kv.lease,
  };
}

function asText(bytes: Uint8Array, encoding: TextEncoding): string {
  return encoding === "base64" ? Buffer.from(bytes).toString("base64") : fromUtf8(bytes);
}

// ---------------------------------------------------------------------------
// Server-Sent Events

export interface SseMessage {
  readonly event: string;
  readonly data: unknown;
  /** The revision a client resumes after (Last-Event-ID); absent: the last id stands. */
  readonly id?: number;
}

/** A message whose resume point is `revision`. */
export interface RevisionMessage {
  readonly revision: number;
  readonly event: string;
  readonly data: unknown;
}

export const SSE_KEEP_ALIVE = ": keep-alive\n\n";

export function formatSse({ event, data, id }: SseMessage): string {
  return `${id === undefined ? "" : `id: ${id}\n`}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

/**
 * Ids the messages by revision, on the last message of each revision only:
 * one txn can change several keys at one revision, and a client resuming
 * after an id must have seen that revision whole.
 */
export function withRevisionIds(messages: readonly RevisionMessage[]): SseMessage[] {
  return messages.map(({ revision, event, data }, i) => {
    const lastOfRevision = messages[i + 1]?.revision !== revision;
    return lastOfRevision ? { id: revision, event, data } : { event, data };
  });
}

/** The watch events of the key-value API, as SSE messages. */
export function kvEventMessages(events: readonly Event[], encoding: TextEncoding, withPrevious: boolean): SseMessage[] {
  return withRevisionIds(
    events.map((event) => {
      const { key, value, mod_revision, create_revision, version, lease } = nativeKv(event.kv, encoding);
      const prevValue = withPrevious && event.prevKv ? asText(event.prevKv.value, encoding) : undefined;
      return {
        revision: event.kv.modRevision,
        event: event.type === "PUT" ? "put" : "delete",
        data: { key, value, mod_revision, create_revision, version, lease, prev_value: prevValue },
      };
    }),
  );
}

/** Changes to a service's instances, as SSE messages: `register` with the instance, `deregister` with its id. */
export function serviceMessages(changes: readonly ServiceChange[]): SseMessage[] {
  return withRevisionIds(
    changes.map((change) =>
      change.kind === "register"
        ? { revision: change.revision, event: "register", data: change.instance }
        : { revision: change.revision, event: "deregister", data: { id: change.id } },
    ),
  );
}

/**
 * Interleaves `comment` whenever `source` stays quiet for `intervalMs`, so
 * that proxies and clients do not give up on an idle stream. The timer
 * lives exactly as long as the stream.
 */
export async function* withKeepAlive(source: AsyncIterable<string>, intervalMs: number, comment = SSE_KEEP_ALIVE): AsyncGenerator<string> {
  const iterator = source[Symbol.asyncIterator]();
  let timer: NodeJS.Timeout | undefined;
  try {
    let next = iterator.next();
    for (;;) {
      const quiet = new Promise<"quiet">((resolve) => (timer = setTimeout(resolve, intervalMs, "quiet")));
      const first = await Promise.race([next, quiet]);
      clearTimeout(timer);
      if (first === "quiet") {
        yield comment;
        continue;
      }
      if (first.done) return;
      yield first.value;
      next = iterator.next();
    }
  } finally {
    clearTimeout(timer);
    // Not awaited: a source waiting for its next item returns only once that wait ends (the client's leaving ends it).
    void iterator.return?.();
  }
}

/** Turns watch updates into SSE text: `describe` for events, then `compacted` ends the stream. */
async function* sseOfUpdates(updates: AsyncIterable<WatchUpdate>, describe: (events: readonly Event[]) => SseMessage[]): AsyncGenerator<string> {
  for await (const update of updates) {
    if (update.kind === "compacted") yield formatSse({ event: "compacted", data: { compact_revision: update.compactRevision } });
    if (update.kind === "events") yield describe(update.events).map(formatSse).join("");
  }
}

async function* afterOpening(first: readonly SseMessage[], rest: AsyncIterable<string>): AsyncGenerator<string> {
  // The opening comment flushes the headers, so the client knows the stream is open before any event.
  yield `: watching\n\n${first.map(formatSse).join("")}`;
  yield* rest;
}

function sendSse(reply: FastifyReply, chunks: AsyncIterable<string>): FastifyReply {
  return reply
    .header("cache-control", "no-cache")
    .header("x-accel-buffering", "no")
    .type("text/event-stream")
    .send(Readable.from(withKeepAlive(chunks, KEEP_ALIVE_INTERVAL_MS)));
}

/** The revision a watch starts at: after the client's Last-Event-ID when it resumes, else the one asked for (0: from now). */
export function startRevisionOf(lastEventId: string | undefined, revision: number | undefined): number {
  return lastEventId === undefined ? (revision ?? 0) : Number(lastEventId) + 1;
}

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

// ---------------------------------------------------------------------------
// Schemas

type Schema = Readonly<Record<string, unknown>>;

/** A query flag: `?prefix`, `?prefix=true`, `?prefix=1`; `false` and `0` turn it off. */
const FLAG: Schema = { type: "string", enum: ["", "true", "false", "1", "0"] };
const REVISION: Schema = { type: "integer", minimum: 0 };
const ENCODING: Schema = { type: "string", enum: ["utf8", "base64"], default: "utf8" };
const INTEGER: Schema = { type: "integer" };

function object(properties: Record<string, Schema>, required: readonly string[] = []): Schema {
  return { type: "object", properties, required };
}

const ERROR_PROPERTIES = { error: { type: "string" }, code: INTEGER, message: { type: "string" } };
const ERROR_REPLY = object(ERROR_PROPERTIES);
const KV_REPLY = object({
  key: { type: "string" },
  value: { type: "string" },
  create_revision: INTEGER,
  mod_revision: INTEGER,
  version: INTEGER,
  lease: INTEGER,
});
const KV_LIST_REPLY = object({ revision: INTEGER, count: INTEGER, more: { type: "boolean" }, kvs: { type: "array", items: KV_REPLY } });
const WRITE_REPLY = object({ revision: INTEGER });
const DELETE_REPLY = object({ deleted: INTEGER, revision: INTEGER });
const COMPARE_FAILED_REPLY = object({ ...ERROR_PROPERTIES, current_revision: INTEGER });
const INSTANCE_REPLY = object({
  id: { type: "string" },
  address: { type: "string" },
  port: INTEGER,
  tags: { type: "array", items: { type: "string" } },
  meta: { type: "object", additionalProperties: true },
  lease: INTEGER,
});
const LAST_EVENT_ID: Schema = object({ "last-event-id": { type: "string", pattern: "^[0-9]+$" } });
const NAME_PARAMS = object({ name: { type: "string", minLength: 1 } }, ["name"]);
const INSTANCE_PARAMS = object({ name: { type: "string", minLength: 1 }, id: { type: "string", minLength: 1 } }, ["name", "id"]);

/** Every route may answer with an error; the app's handler renders it. */
function replies(success: Schema, others: Record<number, Schema> = {}): Schema {
  return { 200: success, 400: ERROR_REPLY, 404: ERROR_REPLY, 503: ERROR_REPLY, ...others };
}

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

export function nativePlugin(api: KvApi) {
  return async (app: FastifyInstance): Promise<void> => {
    parseAnyBodyAsBytes(app);
    registerKvRoutes(app, api);
    registerWatchRoute(app, api);
    registerLockRoutes(app, api);
    registerServiceRoutes(app, api);
  };
}

function registerKvRoutes(app: FastifyInstance, api: KvApi): void {
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
      const range = await api.range(
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
        return reply.type("application/json").send({
          revision: range.header.revision,
          count: range.count,
          more: range.more,
          kvs: range.kvs.map((kv) => nativeKv(kv, encoding)),
        });
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
      const outcome = await writeIfRevision(api, key, expected, put, writeOptionsOf(request.headers));
      if (outcome.kind === "compare failed") return replyCompareFailed(reply, expected ?? 0, outcome.currentRevision);
      return reply.header("x-raftkv-revision", outcome.header.revision).send({ revision: outcome.header.revision });
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
      const outcome = await writeIfRevision(api, key, expected, deletion, writeOptionsOf(request.headers));
      if (outcome.kind === "compare failed") return replyCompareFailed(reply, expected ?? 0, outcome.currentRevision);
      const deleted = outcome.response && "deleteRange" in outcome.response ? outcome.response.deleteRange.deleted : 0;
      return reply.header("x-raftkv-revision", outcome.header.revision).send({ deleted, revision: outcome.header.revision });
    },
  );
}

function registerWatchRoute(app: FastifyInstance, api: KvApi): void {
  const query = object({ prefix: FLAG, revision: REVISION, prev_kv: FLAG, encoding: ENCODING });
  app.get<{ Params: KeyParams; Querystring: WatchQuery; Headers: ResumeHeaders }>(
    "/v1/watch/*",
    { schema: { querystring: query, headers: LAST_EVENT_ID } },
    async (request, reply) => {
      const { prefix, revision, prev_kv, encoding } = request.query;
      const key = utf8(request.params["*"]);
      const withPrevious = isOn(prev_kv);
      const updates = await watchUpdates(
        api,
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
      return sendSse(reply, afterOpening([], sseOfUpdates(updates, (events) => kvEventMessages(events, encoding, withPrevious))));
    },
  );
}

function registerLockRoutes(app: FastifyInstance, api: KvApi): void {
  const lockReply = object({ key: { type: "string" }, token: INTEGER, lease: INTEGER });
  app.post<{ Params: { name: string }; Querystring: { ttl?: number } }>(
    "/v1/locks/:name",
    { schema: { params: NAME_PARAMS, querystring: object({ ttl: { type: "integer", minimum: 1 } }), response: replies(lockReply) } },
    async (request, reply) => {
      const ttl = request.query.ttl ?? DEFAULT_LOCK_TTL_SECONDS;
      const held = await acquireLockWithNewLease(api, utf8(request.params.name), ttl, abortWhenClosed(reply.raw));
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
      const header = await releaseLockAndLease(api, utf8(request.params.name), utf8(request.query.key));
      return { released: true, revision: header.revision };
    },
  );
}

function registerServiceRoutes(app: FastifyInstance, api: KvApi): void {
  const registered = object({ id: { type: "string" }, lease: INTEGER, ttl: INTEGER, revision: INTEGER });
  app.post<{ Params: { name: string }; Body: Buffer }>(
    "/v1/services/:name",
    { schema: { params: NAME_PARAMS, response: replies(registered) } },
    async (request) => {
      const registration = parseRegistration(request.body ?? Buffer.alloc(0));
      return { id: registration.id, ...(await registerInstance(api, request.params.name, registration)) };
    },
  );
  app.put<{ Params: { name: string; id: string }; Querystring: { lease?: number } }>(
    "/v1/services/:name/:id/heartbeat",
    { schema: { params: INSTANCE_PARAMS, querystring: object({ lease: INTEGER }), response: replies(object({ id: { type: "string" }, lease: INTEGER, ttl: INTEGER })) } },
    async (request) => {
      const { name, id } = request.params;
      return { id, ...(await heartbeat(api, name, id, request.query.lease)) };
    },
  );
  app.delete<{ Params: { name: string; id: string } }>(
    "/v1/services/:name/:id",
    { schema: { params: INSTANCE_PARAMS, response: replies(object({ deregistered: { type: "boolean" }, revision: INTEGER })) } },
    async (request) => ({ deregistered: true, ...(await deregisterInstance(api, request.params.name, request.params.id)) }),
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
      if (!isOn(request.query.watch)) return listInstances(api, name);
      return watchService(api, name, request.headers["last-event-id"], reply);
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
  return sendSse(reply, afterOpening(initial, sseOfUpdates(updates, (events) => serviceMessages(events.flatMap((event) => serviceChangeOf(event) ?? [])))));
}
