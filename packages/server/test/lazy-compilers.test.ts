/**
 * Route schemas are compiled on a route's first request, not at start-up,
 * and compile to what fastify's own compilers make: validation failures and
 * schema-shaped replies are unchanged. A schema the build compiled runs the
 * build's code (route-code.test.ts checks that code against the compilers).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import Fastify from "fastify";
import { lazyCompilers, schemaKey, type PrecompiledRoutes } from "../src/http/lazy-compilers.js";

const ECHO_BODY = { type: "object", properties: { n: { type: "integer" } }, required: ["n"] };

function app(precompiled?: PrecompiledRoutes) {
  const server = Fastify({ logger: false, schemaController: { compilersFactory: lazyCompilers(precompiled) } });
  server.post(
    "/echo",
    {
      schema: {
        body: ECHO_BODY,
        response: { 200: { type: "object", properties: { n: { type: "integer" } } } },
      },
    },
    async (request) => ({ ...(request.body as object), secret: "not in the schema" }),
  );
  // Ajv refuses this schema in strict mode: compiling it at start-up would fail ready().
  server.post("/broken", { schema: { body: { type: "object", notAKeyword: true } } }, async () => ({}));
  return server;
}

test("start-up compiles no route schema: a route Ajv cannot compile fails on its first request, not at ready()", async () => {
  const server = app();
  await server.ready();
  const broken = await server.inject({ method: "POST", url: "/broken", payload: {} });
  assert.equal(broken.statusCode, 500);
  await server.close();
});

test("validation and schema-shaped replies are fastify's own", async () => {
  const server = app();
  const ok = await server.inject({ method: "POST", url: "/echo", payload: { n: 3 } });
  assert.deepEqual(ok.json(), { n: 3 }, "the reply is serialized by its schema");
  const invalid = await server.inject({ method: "POST", url: "/echo", payload: { n: "three" } });
  assert.equal(invalid.statusCode, 400);
  assert.match(invalid.json<{ message: string }>().message, /body\/n must be integer/);
  const again = await server.inject({ method: "POST", url: "/echo", payload: {} });
  assert.match(again.json<{ message: string }>().message, /must have required property 'n'/);
  await server.close();
});

test("a schema the build compiled is validated by the build's code, the others as before", async () => {
  const refuse = Object.assign(() => false, { errors: [{ instancePath: "", message: "is refused by the build's code" }] });
  const server = app({ validators: new Map([[schemaKey(ECHO_BODY), () => refuse]]), serializers: new Map() });
  const echo = await server.inject({ method: "POST", url: "/echo", payload: { n: 3 } });
  assert.equal(echo.statusCode, 400);
  assert.match(echo.json<{ message: string }>().message, /body is refused by the build's code/);
  const broken = await server.inject({ method: "POST", url: "/broken", payload: {} });
  assert.equal(broken.statusCode, 500, "a schema the build did not see is compiled on its first request");
  await server.close();
});
