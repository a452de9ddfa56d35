/**
 * The gateway over WebSocket, as etcd serves it: etcd wraps its gateway in
 * a WebSocket proxy (grpc-websocket-proxy), so a GET upgrade at a gateway
 * path opens the same call, with the client's text messages as the
 * request body and one reply message per WebSocket message. What etcd
 * 3.4.23 does, and so this:
 * - No subprotocol is needed. One that starts with "Bearer" is answered
 *   "Bearer", and `Bearer, <token>` carries the token; a `token` cookie
 *   overrides it. The upgrade's own Authorization header is not used.
 * - Each message, then a newline, is body text read as a stream of JSON
 *   values: a message may carry several requests, a request span messages.
 * - A stream's messages are `{"result": …}`, a unary call's its reply; a
 *   unary or server-streaming call closes the connection once answered,
 *   without a close frame.
 * - A bad first request is answered with the call's error body (for a
 *   bidirectional stream, code 2: the gateway does not type it) and the
 *   connection closed; a bad later request of a bidirectional stream ends
 *   the client's side of it, as if the client had sent no more (a watch
 *   stream carries on, a keep-alive stream ends).
 * - A client's close frame is answered with 1000 (by `ws` itself).
 */
import websocket from "@fastify/websocket";
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { IncomingHttpHeaders } from "node:http";
import type { WebSocket } from "ws";
import { RaftkvError } from "../../errors.js";
import type { MemberApis } from "../../kv/api.js";
import { MAX_REQUEST_BYTES } from "../../recipes/kv.js";
import type { AuthService, Identity } from "../../services/auth.js";
import { guardedApis } from "../../services/guard.js";
import { credentialsOf } from "../auth-context.js";
import { Fields, type JsonObject } from "./decode.js";
import { encodeStreamError } from "./encode.js";
import { JsonValues } from "./json-values.js";
import type { ToProtoNames } from "./proto-names.js";

/** gRPC's Unknown: what etcd's gateway reports for a bidirectional stream's undecodable first request. */
const UNKNOWN_CODE = 2;
/** Replies a client leaves unread beyond this end its connection, rather than the member's memory. */
const MAX_BUFFERED_BYTES = 64 * 1024 * 1024;

/** One WebSocket client as a route sees it. */
export interface WsPeer {
  /** The services as the client's token may use them, and who it is, checked for each request as etcd checks it; rejects when the token is bad. */
  identify(): Promise<{ readonly apis: MemberApis; readonly identity: Identity }>;
  /** Aborts when the client leaves. */
  readonly closed: AbortSignal;
  send(message: JsonObject): void;
  /** Closes the connection once what was sent is written, without a close frame, as etcd's proxy does. */
  end(): void;
  /** Ends the call with a stream's error message, as grpc-gateway ends a failed stream. */
  fail(error: unknown): void;
}

/** What a route does with a WebSocket's requests. */
export interface WsCall<Request> {
  /** Unary and server-streaming calls read one request; bidirectional streams read on. */
  readonly bidirectional: boolean;
  /** Reads a request; what throws here is a bad request. */
  decode(body: Fields): Request;
  /** Acts on a request; requests are acted on one at a time, in order. What throws ends the call with a stream error. */
  act(request: Request, peer: WsPeer): Promise<void>;
  /** The client will send no more requests (a bad one ended its side); answers to earlier ones were sent. */
  clientDone?(peer: WsPeer): void;
  /** The client left or the call ended. */
  close?(): void;
}

export type WsRoute = (peer: WsPeer) => WsCall<unknown>;

export interface WebSocketRoutes {
  /** Serves `route` at `url` to WebSocket upgrades; a plain GET there is answered as etcd's gateway answers one. */
  add(url: string, toProtoNames: ToProtoNames, route: WsRoute): void;
}

/**
 * The WebSocket plugin with etcd's subprotocol answer, for the member's root
 * app (http/app.ts): there its hooks also drop an upgrade that no WebSocket
 * route took once it is answered (a 404), which Node's HTTP server would
 * otherwise leave half open.
 */
export function webSocketPlugin(app: FastifyInstance): void {
  void app.register(websocket, {
    options: {
      maxPayload: 4 * MAX_REQUEST_BYTES,
      handleProtocols: (_protocols, request) => (request.headers["sec-websocket-protocol"]?.startsWith("Bearer") ? "Bearer" : false),
    },
  });
}

/** Within the gateway's plugin, on an app with webSocketPlugin: adds WebSocket routes. */
export function webSocketRoutes(app: FastifyInstance, apis: MemberApis, auth: AuthService): WebSocketRoutes {
  return {
    add(url, toProtoNames, route) {
      app.route({
        method: "GET",
        url,
        // A HEAD of a call's path means nothing; fastify would add one per GET route, to register at each start.
        exposeHeadRoute: false,
        // The upgrade's Authorization header is not the call's: its token comes from the subprotocol or the cookie.
        onRequest: async (request) => {
          delete request.headers.authorization;
        },
        handler: async (_request, reply) => reply.code(405).type("text/plain; charset=utf-8").send("Method Not Allowed\n"),
        wsHandler: (socket, request) => {
          const peer = peerOf(socket, identifier(request, apis, auth));
          converse(socket, peer, route(peer), toProtoNames);
        },
      });
    },
  };
}

function identifier(request: FastifyRequest, apis: MemberApis, auth: AuthService): WsPeer["identify"] {
  const credentials = credentialsOf(webSocketAuthorization(request.headers), "bare-token");
  return async () => {
    const identity = await auth.identify(credentials);
    return { apis: guardedApis(apis, auth, identity), identity };
  };
}

/** The Authorization etcd's proxy gives the call: from a `token` cookie, else from a `Bearer, <token>` subprotocol. */
function webSocketAuthorization(headers: IncomingHttpHeaders): string | undefined {
  const cookie = headers.cookie
    ?.split(";")
    .map((part) => part.trim())
    .find((part) => part.startsWith("token="));
  if (cookie !== undefined) return `Bearer ${cookie.slice("token=".length)}`;
  const protocol = headers["sec-websocket-protocol"];
  if (protocol === undefined) return undefined;
  const at = protocol.indexOf("Bearer,");
  return at < 0 ? "" : `Bearer ${protocol.slice(at + "Bearer,".length).trim()}`;
}

function peerOf(socket: WebSocket, identify: WsPeer["identify"]): WsPeer {
  const leaving = new AbortController();
  socket.once("close", () => leaving.abort());
  let written = Promise.resolve();
  return {
    identify,
    closed: leaving.signal,
    send(message) {
      if (socket.readyState !== socket.OPEN) return;
      if (socket.bufferedAmount > MAX_BUFFERED_BYTES) return socket.terminate();
      written = new Promise((resolve) => socket.send(JSON.stringify(message), () => resolve()));
    },
    end() {
      void written.then(() => socket.terminate());
    },
    fail(error) {
      this.send(encodeStreamError(error));
      this.end();
    },
  };
}

/** Reads the client's requests into `call`, as etcd's proxy and gateway read them. */
function converse(socket: WebSocket, peer: WsPeer, call: WsCall<unknown>, toProtoNames: ToProtoNames): void {
  const body = new JsonValues(4 * MAX_REQUEST_BYTES);
  let first = true;
  let reading = true;
  let acted = Promise.resolve();
  const refuse = (error: unknown): void => {
    reading = false;
    if (!first) {
      acted = acted.then(() => call.clientDone?.(peer));
      return;
    }
    const typed = error instanceof RaftkvError ? error.toJSON() : { error: String(error), code: UNKNOWN_CODE, message: String(error) };
    peer.send(call.bidirectional ? { ...typed, code: UNKNOWN_CODE } : typed);
    peer.end();
  };
  socket.on("message", (data) => {
    if (!reading) return;
    try {
      // Text and binary messages alike, as etcd's proxy reads them.
      for (const value of body.push(`${data.toString()}\n`)) {
        const request = call.decode(Fields.of(toProtoNames(value)));
        first = false;
        reading = call.bidirectional;
        acted = acted.then(() => call.act(request, peer)).catch((error: unknown) => peer.fail(error));
        if (!reading) break;
      }
    } catch (error) {
      refuse(error);
    }
  });
  socket.once("close", () => call.close?.());
}

/** A unary call: one request, then its reply or its error body, then the connection closes. */
export function unaryCall(handle: (body: Fields, peer: WsPeer) => Promise<JsonObject>): WsRoute {
  return () => ({
    bidirectional: false,
    decode: (body) => body,
    async act(body, peer) {
      peer.send(await handle(body as Fields, peer).catch(errorBody));
      peer.end();
    },
  });
}

/** A server-streaming call: one request, then its messages until the stream ends; an error before the first is the call's error body. */
export function serverStreamCall(open: (body: Fields, peer: WsPeer) => Promise<AsyncIterable<JsonObject>>): WsRoute {
  return () => ({
    bidirectional: false,
    decode: (body) => body,
    async act(body, peer) {
      let messages: AsyncIterable<JsonObject>;
      try {
        messages = await open(body as Fields, peer);
      } catch (error) {
        peer.send(errorBody(error));
        return peer.end();
      }
      for await (const message of messages) peer.send(message);
      peer.end();
    },
  });
}

function errorBody(error: unknown): JsonObject {
  if (error instanceof RaftkvError) return error.toJSON();
  throw error;
}
