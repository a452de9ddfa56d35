/**
 * What a member serves its clients on each client URL: the HTTP APIs
 * (health and metrics, the etcd v3 gateway, the native /v1 API, the
 * dashboard) and, on plain-text URLs, etcd's gRPC services on the same port.
 * node.ts imports this module only once Raft runs: fastify, gRPC and the
 * routes are most of the code a member loads, and a restarted member that
 * votes and acknowledges appends first gives its cluster back a quorum
 * sooner.
 */
import type { Server as TlsServer } from "node:tls";
import type { Logger } from "pino";
import { parseUrl } from "./config.js";
import { listenForClients, type ClientListener } from "./grpc/listener.js";
import { createGrpcServer } from "./grpc/server.js";
import { grpcServicesOf } from "./grpc/services.js";
import { createApp } from "./http/app.js";
import { etcdGatewayPlugin } from "./http/etcd-gateway/routes.js";
import { healthPlugin } from "./http/health.js";
import { nativePlugin } from "./http/native/routes.js";
import type { ClientTls } from "./http/tls.js";
import type { Metrics } from "./metrics.js";
import type { AuthService } from "./services/auth.js";
import type { HealthService } from "./services/health.js";
import type { KvService } from "./services/kv.js";
import type { MaintenanceService } from "./services/maintenance.js";
import type { MembershipService } from "./services/membership.js";

export interface ClientServices {
  readonly kv: KvService;
  readonly cluster: MembershipService;
  readonly maintenance: MaintenanceService;
  readonly health: HealthService;
  readonly auth: AuthService;
}

export interface ClientApiOptions {
  readonly raft: { readonly leader: number };
  readonly metrics: Metrics;
  readonly listenUrls: readonly string[];
  /** Present when the client URLs are https://: fastify serves TLS itself, and gRPC is not offered there yet. */
  readonly tls: ClientTls | undefined;
  readonly logger: Logger;
}

export interface ClientApis {
  /** Stops listening and ends every client connection (gRPC clients get a short grace). */
  close(): Promise<void>;
}

export async function serveClients(services: ClientServices, options: ClientApiOptions): Promise<ClientApis> {
  const { kv, cluster, maintenance, health, auth } = services;
  const apis = { kv, cluster, maintenance };
  const app = createApp(options.metrics, options.tls?.options);
  await app.register(healthPlugin(health, options.metrics));
  await app.register(etcdGatewayPlugin(apis, auth, options.tls?.memberClientOptions()));
  await app.register(nativePlugin(apis, auth));
  await app.ready();
  if (options.tls) {
    for (const url of options.listenUrls) await app.listen(parseUrl(url));
    options.tls.watch(app.server as unknown as TlsServer, options.logger);
    return { close: () => app.close() };
  }
  const grpcServer = createGrpcServer(grpcServicesOf(apis, options.raft, () => auth.state.enabled));
  const listeners: ClientListener[] = [];
  for (const url of options.listenUrls) {
    const { host, port } = parseUrl(url);
    listeners.push(await listenForClients(host, port, app.server, grpcServer));
  }
  return {
    async close() {
      await Promise.all(listeners.map((listener) => listener.close()));
      await app.close();
    },
  };
}
