/**
 * Every route's request schemas are valid JSON Schema: compiled by fastify's
 * own validator compiler with Ajv's check against its meta-schema, which
 * members leave off (http/app.ts) so that a member's first request does not
 * compile the meta-schema. This test is where they are checked instead.
 * (Reply schemas go to fast-json-stringify, which still checks its own.)
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { AjvCompiler } from "@fastify/ajv-compiler";
import type { FastifySchema } from "fastify";
import { createApp } from "../src/http/app.js";
import { etcdGatewayPlugin } from "../src/http/etcd-gateway/routes.js";
import { healthPlugin } from "../src/http/health.js";
import { nativePlugin } from "../src/http/native/routes.js";
import { Metrics } from "../src/metrics.js";
import { oneMemberServices } from "./support/services.js";

type Compile = (route: { schema: unknown; method: string; url: string; httpPart: string }) => unknown;

/** fastify's validator compiler as a member would build it, with the meta-schema check on. */
function checkingCompiler(sharedSchemas: Record<string, unknown>): Compile {
  const build = (AjvCompiler as unknown as () => (shared: unknown, options: unknown) => Compile)();
  return build(sharedSchemas, { customOptions: { validateSchema: true } });
}

const PARTS = ["body", "querystring", "params", "headers"] as const;

test("every route's request schemas pass Ajv's meta-schema check", async () => {
  const services = await oneMemberServices();
  const metrics = new Metrics(
    { term: () => 1, isLeader: () => true, commitIndex: () => 0, appliedIndex: () => 0 },
    { alarms: () => [], wasRemoved: () => false, storageFailed: () => false, activePeers: () => 0 },
  );
  const app = createApp(metrics);
  const routes: { method: string; url: string; schema: FastifySchema; shared: Record<string, unknown> }[] = [];
  app.addHook("onRoute", function collect(route) {
    // The shared schemas a route may refer to are its plugin's.
    if (route.schema) routes.push({ method: String(route.method), url: route.url, schema: route.schema, shared: this.getSchemas() });
  });
  await app.register(healthPlugin({ unhealthyReason: () => undefined, isReady: () => true }, metrics));
  await app.register(etcdGatewayPlugin(services, services.auth));
  await app.register(nativePlugin(services, services.auth));
  await app.ready();
  try {
    let checked = 0;
    for (const { method, url, schema, shared } of routes) {
      const compile = checkingCompiler(shared);
      for (const httpPart of PARTS.filter((part) => schema[part] !== undefined)) {
        assert.doesNotThrow(() => compile({ schema: schema[httpPart], method, url, httpPart }), `${method} ${url} ${httpPart}`);
        checked++;
      }
    }
    assert.ok(checked > 30, `only ${checked} schemas found`);
    assert.throws(() => checkingCompiler({})({ schema: { type: "string", minLength: -1 }, method: "POST", url: "/", httpPart: "body" }), /minLength/);
  } finally {
    await app.close();
    await services.close();
  }
});
