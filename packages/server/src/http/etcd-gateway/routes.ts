/**
 * etcd v3's JSON gateway, as etcd 3.4 serves it: the same paths, the same
 * field names as etcd's protos (snake_case for KV and watch, etcd's own
 * camelCase for lease, cluster and maintenance), proto3 JSON (bytes in
 * base64, int64 as decimal strings, zero values left out), so that anything
 * written for etcd's gateway works unchanged.
 *
 * Each route is a schema, a decoder, a call into the services and an
 * encoder; what only the leader may answer says so in its config. Every
 * route is served under /v3 and /v3beta (etcd 3.4 answers both, and not
 * /v3alpha: see beta-prefix.ts), over a POST and over a WebSocket
 * (websocket.ts); bodies take proto and JSON field names alike
 * (proto-names.ts).
 */
import { Readable } from "node:stream";
import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from "fastify";
import { isEtcdError, type RaftkvError } from "../../errors.js";
import type { MemberApis, WriteOptions } from "../../kv/api.js";
import { campaign, currentLeader, observeLeader, proclaim, resign } from "../../recipes/election.js";
import { keepAliveAsEtcd } from "../../recipes/kv.js";
import { acquireLock, releaseLock } from "../../recipes/lock.js";
import { watchUpdates } from "../../recipes/watch.js";
import { abortWhenClosed, parseAnyBodyAsJson } from "../app.js";
import { IDEMPOTENCY_KEY_HEADERS, writeOptionsOf, type IdempotencyKeyHeaders } from "../idempotency-key.js";
import type { AuthService, Identity } from "../../services/auth.js";
import { identifyRequests } from "../auth-context.js";
import { authRoutes } from "./auth-routes.js";
import { forwardLeaderOnlyRoutes } from "../leader-forward.js";
import type { MemberClientTls } from "../tls.js";
import type { Schema } from "../schema.js";
import {
  Fields,
  decodeAlarmRequest,
  decodeDeleteRangeRequest,
  decodeLeaderKey,
  decodePutRequest,
  decodeRangeRequest,
  decodeTxnRequest,
  decodeWatchRequest,
  decodeWatchStreamRequest,
  type JsonObject,
  type WatchStreamRequest,
} from "./decode.js";
import {
  encodeAlarmResponse,
  encodeDeleteRangeResponse,
  encodeHashKv,
  encodeHeader,
  encodeLease,
  encodeLeaderKey,
  encodeLeaderView,
  encodeLeases,
  encodeMembers,
  encodePutResponse,
  encodeRangeResponse,
  encodeStatus,
  encodeTimeToLive,
  encodeTxnResponse,
  encodeWatchCreated,
  encodeWatchRefused,
  headerOnly,
  jsonLines,
  snapshotMessages,
  watchMessages,
} from "./encode.js";
import { encodeBytes } from "./proto3-json.js";
import { protoNamesFor, type ToProtoNames } from "./proto-names.js";
import * as schemas from "./schemas.js";
import { WatchSession } from "./watch-session.js";
import { serverStreamCall, unaryCall, webSocketRoutes, type WsPeer, type WsRoute } from "./websocket.js";

/** What a route gets besides its body: the services as the request's identity may use them, and more. */
interface RouteContext extends MemberApis {
  /** Who sent the request. */
  readonly identity: Identity;
  /** The Idempotency-Key header as the options of the write the route makes. */
  readonly write: WriteOptions;
  /** A signal that aborts when the client leaves; only waiting routes need one, so it is made on demand. */
  whenClosed(): AbortSignal;
}

type Unary = (body: Fields, context: RouteContext) => Promise<JsonObject>;
/** Opens a stream of messages; throwing here (before any byte is sent) replies with an error status. */
type Streaming = (body: Fields, signal: AbortSignal, apis: MemberApis) => Promise<AsyncIterable<JsonObject>>;

interface PostOptions {
  /** The schema of a successful reply, which fastify compiles into a serializer. */
  readonly reply?: Schema;
  /** Only the leader answers; another member forwards the request to it. Not offered over a WebSocket. */
  readonly leaderOnly?: boolean;
  /** The call over a WebSocket, when it is not the route's own handler answering one request (a bidirectional stream). */
  readonly webSocket?: WsRoute;
}

/** `memberTls`: how to reach an https:// leader when a leader-only request is forwarded. */
export function etcdGatewayPlugin(apis: MemberApis, auth: AuthService, memberTls?: MemberClientTls) {
  return async (app: FastifyInstance): Promise<void> => {
    parseAnyBodyAsJson(app);
    // grpc-gateway reads a missing body as an empty request (`curl -X POST …/status`).
    // Hooks on every request take fastify's callback form: an async hook costs each request a promise and its turns.
    app.addHook("preValidation", (request, _reply, done) => {
      request.body ??= {};
      done();
    });
    identifyRequests(app, { auth, apis, scheme: "bare-token" });
    forwardLeaderOnlyRoutes(app, () => apis.cluster.leaderClientUrl(), memberTls);
    for (const schema of schemas.SHARED_SCHEMAS.values()) app.addSchema(schema);
    const webSockets = webSocketRoutes(app, apis, auth);

    /** A route's hook that turns its body's JSON names into proto names, before the body is validated. */
    const renaming = (toProtoNames: ToProtoNames) => (request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction) => {
      request.body = toProtoNames(request.body);
      done();
    };

    /** A POST route (or several, for etcd's aliases). */
    const post = (urls: string | readonly string[], body: Schema, handle: Unary, { reply, leaderOnly = false, webSocket }: PostOptions = {}): void => {
      const schema = { body, headers: IDEMPOTENCY_KEY_HEADERS, ...(reply ? { response: { 200: reply } } : {}) };
      const toProtoNames = protoNamesFor(body, schemas.SHARED_SCHEMAS);
      for (const url of [urls].flat()) {
        app.post<{ Headers: IdempotencyKeyHeaders }>(url, { schema, config: { leaderOnly }, preValidation: renaming(toProtoNames) }, (request, raw) =>
          handle(Fields.of(request.body), {
            ...request.apis,
            identity: request.identity,
            write: writeOptionsOf(request.headers),
            whenClosed: () => abortWhenClosed(raw.raw),
          }),
        );
        if (!leaderOnly) webSockets.add(url, toProtoNames, webSocket ?? unaryCall(async (f, peer) => handle(f, await contextOf(peer))));
      }
    };
    /** A POST route answered by newline-separated JSON messages until the source ends or the client leaves. */
    const stream = (url: string, body: Schema, open: Streaming, webSocket?: WsRoute): void => {
      const toProtoNames = protoNamesFor(body, schemas.SHARED_SCHEMAS);
      app.post(url, { schema: { body }, preValidation: renaming(toProtoNames) }, async (request, reply) => {
        const messages = await open(Fields.of(request.body), abortWhenClosed(reply.raw), request.apis);
        return reply.type("application/json").send(Readable.from(jsonLines(messages)));
      });
      const overWebSocket = serverStreamCall(async (f, peer) => open(f, peer.closed, (await peer.identify()).apis));
      webSockets.add(url, toProtoNames, webSocket ?? overWebSocket);
    };

    post("/v3/kv/range", schemas.RANGE_REQUEST, async (f, { kv }) => encodeRangeResponse(await kv.range(decodeRangeRequest(f))), {
      reply: schemas.RANGE_REPLY,
    });
    post("/v3/kv/put", schemas.PUT_REQUEST, async (f, { write, kv }) => encodePutResponse(await kv.put(decodePutRequest(f), write)), {
      reply: schemas.PUT_REPLY,
    });
    post("/v3/kv/deleterange", schemas.DELETE_RANGE_REQUEST, async (f, { write, kv }) =>
      encodeDeleteRangeResponse(await kv.deleteRange(decodeDeleteRangeRequest(f), write)),
    );
    post("/v3/kv/txn", schemas.TXN_REQUEST_REF, async (f, { write, kv }) => encodeTxnResponse(await kv.txn(decodeTxnRequest(f), write)));
    post("/v3/kv/compaction", schemas.COMPACTION_REQUEST, async (f, { write, kv }) => headerOnly(await kv.compact(f.int("revision"), write)));

    stream(
      "/v3/watch",
      schemas.WATCH_REQUEST,
      async (f, signal, { kv }) => {
        const { request, watchId } = decodeWatchRequest(f);
        try {
          const updates = await watchUpdates(kv, request, signal);
          return watchMessages(encodeWatchCreated(kv.header(), watchId), updates, watchId);
        } catch (error) {
          if (!isAuthRefusal(error)) throw error;
          return (async function* () {
            yield encodeWatchRefused(kv.header(), error);
          })();
        }
      },
      watchStream(apis),
    );

    post("/v3/lease/grant", schemas.LEASE_GRANT_REQUEST, async (f, { write, kv }) => encodeLease(await kv.leaseGrant(f.int("TTL"), f.int("ID"), write)));
    post(["/v3/lease/revoke", "/v3/kv/lease/revoke"], schemas.ID_REQUEST, async (f, { write, kv }) => headerOnly(await kv.leaseRevoke(f.int("ID"), write)));
    post("/v3/lease/keepalive", schemas.ID_REQUEST, async (f, { kv }) => ({ result: encodeLease(await keepAliveAsEtcd(kv, f.int("ID"))) }), {
      webSocket: keepAliveStream,
    });
    post(["/v3/lease/timetolive", "/v3/kv/lease/timetolive"], schemas.LEASE_TIME_TO_LIVE_REQUEST, async (f, { kv }) =>
      encodeTimeToLive(await kv.leaseTimeToLive(f.int("ID"), f.bool("keys"))),
    );
    post(["/v3/lease/leases", "/v3/kv/lease/leases"], schemas.EMPTY_REQUEST, async (_f, { kv }) => encodeLeases(await kv.leaseLeases()));

    const onLeader = { leaderOnly: true };
    post("/v3/cluster/member/list", schemas.EMPTY_REQUEST, async (_f, { cluster }) => encodeMembers(await cluster.memberList()));
    post(
      "/v3/cluster/member/add",
      schemas.MEMBER_ADD_REQUEST,
      async (f, { cluster }) => encodeMembers(await cluster.memberAdd(f.strings("peerURLs"), f.bool("isLearner"))),
      onLeader,
    );
    post("/v3/cluster/member/remove", schemas.ID_REQUEST, async (f, { cluster }) => encodeMembers(await cluster.memberRemove(f.int("ID"))), onLeader);
    post("/v3/cluster/member/update", schemas.MEMBER_UPDATE_REQUEST, async (f, { cluster }) =>
      encodeMembers(await cluster.memberUpdate(f.int("ID"), f.strings("peerURLs"))),
    );
    post("/v3/cluster/member/promote", schemas.ID_REQUEST, async (f, { cluster }) => encodeMembers(await cluster.memberPromote(f.int("ID"))), onLeader);

    post("/v3/maintenance/status", schemas.EMPTY_REQUEST, async (_f, { maintenance }) => encodeStatus(await maintenance.status()));
    // etcd's gateway serves HashKV's reply at /hash; /hashkv names it plainly.
    post(["/v3/maintenance/hash", "/v3/maintenance/hashkv"], schemas.HASH_KV_REQUEST, async (f, { maintenance }) =>
      encodeHashKv(await maintenance.hashKv(f.int("revision"))),
    );
    stream("/v3/maintenance/snapshot", schemas.EMPTY_REQUEST, async (_f, _signal, { maintenance }) => snapshotMessages(await maintenance.snapshot()));
    post(
      "/v3/maintenance/transfer-leadership",
      schemas.TRANSFER_LEADERSHIP_REQUEST,
      async (f, { maintenance }) => headerOnly(await maintenance.moveLeader(f.int("targetID"))),
      onLeader,
    );
    post("/v3/maintenance/alarm", schemas.ALARM_REQUEST, async (f, { maintenance }) => encodeAlarmResponse(await maintenance.alarm(decodeAlarmRequest(f))));
    post("/v3/maintenance/defragment", schemas.EMPTY_REQUEST, async (_f, { maintenance }) => headerOnly(await maintenance.defragment()));

    // Lock and campaign take no request id: joining a queue with a lease is idempotent already (the same
    // lease keeps its place), and a retry must be able to join again after a failed attempt left the queue.
    post("/v3/lock/lock", schemas.LOCK_REQUEST, async (f, { whenClosed, kv }) => {
      const held = await acquireLock(kv, f.bytes("name"), f.int("lease"), whenClosed());
      return { header: encodeHeader(held.header), key: encodeBytes(held.key) };
    });
    post("/v3/lock/unlock", schemas.UNLOCK_REQUEST, async (f, { write, kv }) => headerOnly({ header: await releaseLock(kv, f.bytes("key"), write) }));

    post("/v3/election/campaign", schemas.CAMPAIGN_REQUEST, async (f, { whenClosed, kv }) => {
      const elected = await campaign(kv, f.bytes("name"), f.int("lease"), f.bytes("value"), whenClosed());
      return { header: encodeHeader(elected.header), leader: encodeLeaderKey(elected.leader) };
    });
    post("/v3/election/proclaim", schemas.PROCLAIM_REQUEST, async (f, { write, kv }) =>
      headerOnly({ header: await proclaim(kv, decodeLeaderKey(f.object("leader")), f.bytes("value"), write) }),
    );
    post("/v3/election/leader", schemas.ELECTION_NAME_REQUEST, async (f, { kv }) => encodeLeaderView(await currentLeader(kv, f.bytes("name"))));
    stream("/v3/election/observe", schemas.ELECTION_NAME_REQUEST, async (f, signal, { kv }) =>
      mapAsync(observeLeader(kv, f.bytes("name"), signal), (view) => ({ result: encodeLeaderView(view) })),
    );
    post("/v3/election/resign", schemas.RESIGN_REQUEST, async (f, { write, kv }) =>
      headerOnly({ header: await resign(kv, decodeLeaderKey(f.object("leader")), write) }),
    );

    authRoutes((url, body, handle) => post(url, body, async (f, { identity }) => handle(f, identity)), auth);
  };
}

/** A route's context for a call over a WebSocket: no headers, so no idempotency key. */
async function contextOf(peer: WsPeer): Promise<RouteContext> {
  const { apis, identity } = await peer.identify();
  return { ...apis, identity, write: {}, whenClosed: () => peer.closed };
}

/** etcd's Watch stream over a WebSocket: many watches, created and canceled as the client asks. */
function watchStream(apis: MemberApis): WsRoute {
  return (peer) => {
    const session = new WatchSession(
      async () => (await peer.identify()).apis.kv,
      () => apis.kv.header(),
      (message) => peer.send(message),
      (error) => peer.fail(error),
    );
    return {
      bidirectional: true,
      decode: decodeWatchStreamRequest,
      act: (request: WatchStreamRequest) => session.handle(request),
      close: () => session.close(),
    };
  };
}

/** etcd's LeaseKeepAlive stream over a WebSocket: each request renews a lease, answered in order; it ends when the client's side does. */
const keepAliveStream: WsRoute = () => ({
  bidirectional: true,
  decode: (f) => f.int("ID"),
  async act(id: number, peer) {
    const { apis } = await peer.identify();
    peer.send({ result: encodeLease(await keepAliveAsEtcd(apis.kv, id)) });
  },
  clientDone: (peer) => peer.end(),
});

/** What etcd reports inside a watch stream rather than as the stream's status. */
function isAuthRefusal(error: unknown): error is RaftkvError {
  return isEtcdError(error, "permissionDenied") || isEtcdError(error, "userEmpty");
}

async function* mapAsync<T, U>(source: AsyncIterable<T>, map: (item: T) => U): AsyncGenerator<U> {
  for await (const item of source) yield map(item);
}
