/**
 * Health, readiness, liveness, version and metrics: what load balancers,
 * orchestrators and Prometheus poll.
 */
import type { FastifyInstance } from "fastify";
import type { Metrics } from "../metrics.js";
import { VERSION } from "../version.js";

export interface HealthSource {
  /** Why this member cannot serve, or undefined when it can. */
  unhealthyReason(): string | undefined;
  /** Whether the member can take traffic: it serves linearizable requests (under NOSPACE, reads and deletes). */
  isReady(): boolean;
}

const HEALTH_REPLY = {
  200: { type: "object", properties: { health: { type: "string" }, reason: { type: "string" } } },
  503: { type: "object", properties: { health: { type: "string" }, reason: { type: "string" } } },
};

export function healthPlugin(source: HealthSource, metrics: Metrics) {
  return async (app: FastifyInstance): Promise<void> => {
    app.get("/health", { schema: { response: HEALTH_REPLY } }, async (_request, reply) => {
      const reason = source.unhealthyReason();
      return reply.status(reason ? 503 : 200).send({ health: String(!reason), reason: reason ?? "" });
    });
    app.get("/readyz", { schema: { response: { 200: { type: "string" }, 503: { type: "string" } } } }, async (_request, reply) => {
      if (source.isReady()) return reply.type("text/plain").send("ok");
      const reason = source.unhealthyReason();
      return reply
        .status(503)
        .type("text/plain")
        .send(reason ? `not ready: ${reason}` : "not ready");
    });
    app.get("/livez", { schema: { response: { 200: { type: "string" } } } }, async (_request, reply) => reply.type("text/plain").send("ok"));
    app.get("/version", { schema: { response: { 200: { type: "object", additionalProperties: { type: "string" } } } } }, async () => VERSION);
    app.get("/metrics", { schema: { response: { 200: { type: "string" } } } }, async (_request, reply) =>
      reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()),
    );
  };
}
