/**
 * What a member serves its clients on each client URL: the HTTP APIs
 * (health and metrics, the etcd v3 gateway, the native /v1 API, the
 * dashboard) and etcd's gRPC services, on the same port, over TLS or not.
 * node.ts imports this module only once Raft runs: fastify, gRPC and the
 * routes are most of the code a member loads, and a restarted member that
 * votes and acknowledges appends first gives its cluster back a quorum
 * sooner. gRPC (grpc-js, protobufjs and the loading of etcd's .proto files)
 * is loaded when its first client connects: a member serves HTTP without
 * it, sooner after a restart and in less memory while no gRPC client came.
 */
import type { Server as HttpServer } from "node:http";
import type { Server as GrpcServer } from "@grpc/grpc-js";
import type { Logger } from "pino";
import { parseUrl } from "./config.js";
import { listenForClients, listenForTlsClients, type ClientListener, type GrpcInjectorFactory, type ListenAddress } from "./grpc/listener.js";
import type { FastifyInstance } from "fastify";
import { createApp } from "./http/app.js";
import { etcdGatewayPlugin } from "./http/etcd-gateway/routes.js";
import { healthPlugin, type HealthSource } from "./http/health.js";
import type { SchemaCompilers } from "./http/lazy-compilers.js";
import { nativePlugin } from "./http/native/routes.js";
import type { ClientTls, MemberClientTls } from "./http/tls.js";
import type { Metrics } from "./metrics.js";
import type { AuthService } from "./services/auth.js";
import type { KvService } from "./services/kv.js";
import type { MaintenanceService } from "./services/maintenance.js";
import type { MembershipService } from "./services/membership.js";

export interface ClientServices {
  readonly kv: KvService;
  readonly cluster: MembershipService;
  readonly maintenance: MaintenanceService;
  readonly health: HealthSource;
  readonly auth: AuthService;
}

export interface ClientApiOptions {
  readonly raft: { readonly leader: number };
  readonly metrics: Metrics;
  readonly listenUrls: readonly string[];
  /** Present when the client URLs are https://. */
  readonly tls: ClientTls | undefined;
  readonly logger: Logger;
}

export interface ClientApis {
  /** Stops listening and ends every client connection (gRPC clients get a short grace). */
  close(): Promise<void>;
}

export async function serveClients(services: ClientServices, options: ClientApiOptions): Promise<ClientApis> {
  const { kv, cluster, maintenance, auth } = services;
  const apis = { kv, cluster, maintenance };
  const memberTls = options.tls?.memberClientOptions();
  const app = await clientApp(services, options.metrics, memberTls);
  await app.ready();
  const grpcInjector = lazyGrpcServer(async () => {
    const [{ createGrpcServer }, { grpcServicesOf }] = await Promise.all([import("./grpc/server.js"), import("./grpc/services.js")]);
    return createGrpcServer(grpcServicesOf(apis, auth, { raft: options.raft, memberTls }));
  });
  const listeners: ClientListener[] = [];
  for (const url of options.listenUrls) listeners.push(await listenOn(parseUrl(url), app.server, grpcInjector, options));
  return {
    async close() {
      await Promise.all(listeners.map((listener) => listener.close()));
      await app.close();
    },
  };
}

/**
 * The HTTP APIs, every route registered, not yet ready. The build generates
 * the routes' schema code from this same app (http/route-code.ts), given
 * `compilers` that record it.
 */
export async function clientApp(
  services: ClientServices,
  metrics: Metrics,
  memberTls: MemberClientTls | undefined,
  compilers?: SchemaCompilers,
): Promise<FastifyInstance> {
  const { kv, cluster, maintenance, health, auth } = services;
  const apis = { kv, cluster, maintenance };
  // No TLS here even on https:// URLs: the listeners end it, and hand HTTP/1.1 connections over (see grpc/listener.ts).
  const app = createApp(metrics, compilers);
  await app.register(healthPlugin(health, metrics));
  await app.register(etcdGatewayPlugin(apis, auth, memberTls));
  await app.register(nativePlugin(apis, auth));
  return app;
}

/** One gRPC server for every listener, created by the first that asks; each listener gets an injector of its own. */
function lazyGrpcServer(create: () => Promise<GrpcServer>): GrpcInjectorFactory {
  let server: Promise<GrpcServer> | undefined;
  return async () => {
    server ??= create();
    const [grpcServer, { ServerCredentials }] = await Promise.all([server, import("@grpc/grpc-js")]);
    // Plain text: the listeners end TLS and hand over the decrypted connection (see grpc/listener.ts).
    return grpcServer.createConnectionInjector(ServerCredentials.createInsecure());
  };
}

async function listenOn(
  address: ListenAddress,
  http: HttpServer,
  grpcInjector: GrpcInjectorFactory,
  { tls, logger }: ClientApiOptions,
): Promise<ClientListener> {
  if (!tls) return listenForClients(address, http, grpcInjector);
  const listener = await listenForTlsClients(address, http, grpcInjector, tls.options);
  tls.watch(listener.server, logger);
  return listener;
}
