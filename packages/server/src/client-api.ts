/**
 * The HTTP APIs a member serves (health and metrics, the etcd v3 gateway,
 * the native /v1 API), built and ready to listen. node.ts imports this
 * module only once Raft runs: fastify and the routes are about half of the
 * code a member loads, and a restarted member that votes and acknowledges
 * appends first gives its cluster back a quorum sooner.
 */
import type { FastifyInstance } from "fastify";
import { createApp } from "./http/app.js";
import { etcdGatewayPlugin } from "./http/etcd-gateway.js";
import { healthPlugin } from "./http/health.js";
import { nativePlugin } from "./http/native.js";
import type { KvService } from "./kv/service.js";
import type { Metrics } from "./metrics.js";

export async function buildClientApi(kv: KvService, metrics: Metrics): Promise<FastifyInstance> {
  const app = createApp(metrics);
  await app.register(healthPlugin(kv, metrics));
  await app.register(etcdGatewayPlugin(kv));
  await app.register(nativePlugin(kv));
  await app.ready();
  return app;
}
