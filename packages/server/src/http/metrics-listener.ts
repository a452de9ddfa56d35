/**
 * etcd's --listen-metrics-urls: extra listeners that serve only health,
 * readiness, liveness, version and metrics, in plain HTTP whatever the
 * client listener does, so that Prometheus and load balancers need no
 * client certificate or token when the client port asks for them.
 */
import Fastify, { type FastifyInstance } from "fastify";
import { parseUrl } from "../config.js";
import type { Metrics } from "../metrics.js";
import { healthPlugin, type HealthSource } from "./health.js";

export async function listenForMetrics(urls: readonly string[], health: HealthSource, metrics: Metrics): Promise<FastifyInstance | undefined> {
  if (urls.length === 0) return undefined;
  const app = Fastify({ logger: false, forceCloseConnections: true });
  await app.register(healthPlugin(health, metrics));
  for (const url of urls) await app.listen(parseUrl(url));
  return app;
}
