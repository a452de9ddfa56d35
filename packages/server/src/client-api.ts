/**
 * The HTTP APIs a member serves (health and metrics, the etcd v3 gateway,
 * the native /v1 API), built and ready to listen. node.ts imports this
 * module only once Raft runs: fastify and the routes are about half of the
 * code a member loads, and a restarted member that votes and acknowledges
 * appends first gives its cluster back a quorum sooner.
 */
import type { FastifyInstance } from "fastify";
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

export async function buildClientApi({ kv, cluster, maintenance, health }: ClientServices, metrics: Metrics): Promise<FastifyInstance> {
  const app = createApp(metrics);
  await app.register(healthPlugin(health, metrics));
  await app.register(etcdGatewayPlugin({ kv, cluster, maintenance }));
  await app.register(nativePlugin(kv));
  await app.ready();
  return app;
}
