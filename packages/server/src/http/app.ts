/**
 * The HTTP server: one fastify instance, one encapsulated plugin per API
 * (etcd v3 gateway, native /v1, health and metrics), one error handler that
 * turns typed errors into etcd-style replies.
 */
import type { EventEmitter } from "node:events";
import Fastify, { type FastifyError, type FastifyInstance, type onResponseHookHandler } from "fastify";
import { GrpcCode, RaftkvError, etcdError, invalidArgument } from "../errors.js";
import type { Metrics } from "../metrics.js";
import { uiPlugin } from "./ui.js";
import { lazyCompilers, type SchemaCompilers } from "./lazy-compilers.js";
import { webSocketPlugin } from "./etcd-gateway/websocket.js";
import { withoutBetaPrefix } from "./etcd-gateway/beta-prefix.js";
import { MAX_REQUEST_BYTES } from "../recipes/kv.js";

export function createApp(metrics: Metrics, compilers: SchemaCompilers = lazyCompilers()): FastifyInstance {
  // The body limit sits above etcd's request limit, so that the refusal is etcd's.
  const options = {
    logger: false,
    bodyLimit: 4 * MAX_REQUEST_BYTES,
    forceCloseConnections: true,
    schemaController: { compilersFactory: compilers },
    // Checking our schemas against Ajv's meta-schema meant compiling the
    // meta-schema, about a third of the CPU of a member's first request (a restarted
    // member's first read); test/route-schemas.test.ts checks them instead.
    ajv: { customOptions: { validateSchema: false } },
    rewriteUrl: (request: { url?: string }) => withoutBetaPrefix(request.url ?? "/"),
  } as const;
  // Over TLS too: the client listeners end TLS and hand the connections over (see grpc/listener.ts).
  const app = Fastify(options);
  // Hooks on every request take fastify's callback form: an async hook costs each request a promise and its turns.
  app.addHook("onRequest", (request, _reply, done) => {
    const length = Number(request.headers["content-length"] ?? 0);
    done(length > MAX_REQUEST_BYTES ? etcdError("requestTooLarge") : undefined);
  });
  timeRequests(app, metrics);
  app.setErrorHandler((error: FastifyError | RaftkvError, _request, reply) => {
    const typed = toRaftkvError(error);
    void reply.status(typed.httpStatus).type("application/json").send(JSON.stringify(typed.toJSON()));
  });
  app.setNotFoundHandler((request, reply) => {
    const error = new RaftkvError(GrpcCode.Unimplemented, `Not Found: ${request.method} ${request.originalUrl}`);
    void reply.status(404).type("application/json").send(JSON.stringify(error.toJSON()));
  });
  void app.register(uiPlugin());
  webSocketPlugin(app);
  return app;
}

/**
 * Each route times its requests with series of its own, found without
 * reading `request.routeOptions` (a getter that builds an object per call);
 * requests that match no route are timed as route "unknown".
 */
function timeRequests(app: FastifyInstance, metrics: Metrics): void {
  app.addHook("onRoute", (route) => {
    const timings = metrics.httpRoute(route.url);
    const observe: onResponseHookHandler = (request, reply, done) => {
      timings.observe(request.method, reply.statusCode, reply.elapsedTime / 1000);
      done();
    };
    route.onResponse = [...hooksOf(route.onResponse), observe];
  });
  const unmatched = metrics.httpRoute("unknown");
  app.addHook("onResponse", (request, reply, done) => {
    if (request.is404) unmatched.observe(request.method, reply.statusCode, reply.elapsedTime / 1000);
    done();
  });
}

function hooksOf<Hook>(hooks: Hook | Hook[] | undefined): Hook[] {
  if (hooks === undefined) return [];
  return Array.isArray(hooks) ? hooks : [hooks];
}

function toRaftkvError(error: FastifyError | RaftkvError): RaftkvError {
  if (error instanceof RaftkvError) return error;
  if (error.validation) return invalidArgument(`invalid request: ${error.message}`);
  if (error.statusCode === 413) return etcdError("requestTooLarge");
  if (error.statusCode !== undefined && error.statusCode < 500) return invalidArgument(error.message);
  return new RaftkvError(GrpcCode.Internal, error.message);
}

/**
 * Within a plugin: read every body as JSON whatever its content type, as
 * etcd's gateway does (curl -d sends a form type).
 */
export function parseAnyBodyAsJson(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", { parseAs: "string" }, (_request, body, done) => {
    const text = String(body);
    if (text.trim() === "") return done(null, {});
    try {
      done(null, JSON.parse(text));
    } catch (error) {
      done(invalidArgument(`invalid JSON body: ${(error as Error).message}`), undefined);
    }
  });
}

/** Within a plugin: hand every body over as raw bytes. */
export function parseAnyBodyAsBytes(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", { parseAs: "buffer" }, (_request, body, done) => done(null, body));
}

/** A signal that aborts when `stream` closes: an HTTP response whose client went away, or that ended. */
export function abortWhenClosed(stream: EventEmitter): AbortSignal {
  const controller = new AbortController();
  stream.once("close", () => controller.abort());
  return controller.signal;
}
