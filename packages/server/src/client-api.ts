/**
 * What a member serves its clients on each client URL: the HTTP APIs
 * (health and metrics, the etcd v3 gateway, the native /v1 API, the
 * dashboard) and etcd's gRPC services, on one port. node.ts imports this
 * module only once Raft runs: fastify, gRPC and the routes are most of the
 * code a member loads, and a restarted member that votes and acknowledges
 * appends first gives its cluster back a quorum sooner.
 */
import { parseUrl } from "./config.js";
import { listenForClients, type ClientListener } from "./grpc/listener.js";
import { createGrpcServer } from "./grpc/server.js";
import { grpcServicesOf } from "./grpc/services.js";
import { createApp } from "./http/app.js";
import { etcdGatewayPlugin } from "./http/etcd-gateway/routes.js";
import { healthPlugin } from "./http/health.js";
import { nativePlugin } from "./http/native/routes.js";
import type { Metrics } from "./metrics.js";
import type { HealthService } from "./services/health.js";
import type { KvService } from "./services/kv.js";
import type { MaintenanceService } from "./services/maintenance.js";
import type { MembershipService } from "./services/membership.js";

export interface ClientServices {
  readonly kv: KvService;
  readonly cluster: MembershipService;
  readonly maintenance: MaintenanceService;
  readonly health: HealthService;
}

export interface ClientApis {
  /** Stops listening and ends every client connection (gRPC clients get a short grace). */
  close(): Promise<void>;
}

export async function serveClients(
  services: ClientServices,
  raft: { readonly leader: number },
  metrics: Metrics,
  listenUrls: readonly string[],
): Promise<ClientApis> {
  const { kv, cluster, maintenance, health } = services;
  const app = createApp(metrics);
  await app.register(healthPlugin(health, metrics));
  await app.register(etcdGatewayPlugin({ kv, cluster, maintenance }));
  await app.register(nativePlugin(kv));
  await app.ready();
  const grpcServer = createGrpcServer(grpcServicesOf({ kv, cluster, maintenance }, raft));
  const listeners: ClientListener[] = [];
  for (const url of listenUrls) {
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
