/**
 * The dashboard at /ui/: the static bundle the build makes from
 * packages/server/ui (ui/dist, not committed), and `/` sending a browser
 * there. The page calls this member's public APIs like any client; the
 * plugin adds no route of its own besides the files and the redirect.
 */
import { existsSync } from "node:fs";
import type { OutgoingHttpHeaders } from "node:http";
import { join } from "node:path";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { packagePath } from "../package-files.js";

export const UI_PATH = "/ui/";
export const UI_BUNDLE = packagePath("ui/dist/");

/**
 * The page may load and call only what its own member serves, and no other
 * site may frame it (it can write to the store).
 */
const PAGE_HEADERS = {
  "content-security-policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
};

/** What the file server's answer says of its own connection and body, which the member's reply sets itself. */
const OWN_HEADERS = new Set(["content-length", "date", "connection", "keep-alive", "transfer-encoding"]);

export function uiPlugin(bundle = UI_BUNDLE) {
  return async (app: FastifyInstance): Promise<void> => {
    // curl and other clients keep the API's JSON 404 at `/`.
    app.get("/", async (request, reply) => (acceptsHtml(request) ? reply.redirect(UI_PATH) : reply.callNotFound()));
    // The page's files are relative to /ui/, so /ui must become /ui/.
    app.get("/ui", async (_request, reply) => reply.redirect(UI_PATH));
    if (!existsSync(join(bundle, "index.html"))) {
      app.get(`${UI_PATH}*`, async (_request, reply) =>
        reply.status(503).type("text/plain").send("the dashboard is not built: run `npm run build` in the repository"),
      );
      return;
    }
    const fileServer = lazyFileServer(bundle);
    // Asked for GET (fastify answers HEAD from the GET reply); conditional requests keep their headers.
    app.get(`${UI_PATH}*`, async (request, reply) => {
      const served = await (await fileServer()).inject({ method: "GET", url: request.url, headers: request.headers });
      if (served.statusCode === 404) return reply.callNotFound();
      return reply.code(served.statusCode).headers(headersToPass(served.headers)).send(served.rawPayload);
    });
  };
}

/**
 * The files are served by @fastify/static in a fastify instance of their
 * own, made at the dashboard's first request: loading @fastify/static and
 * its dependencies cost every member about 7 ms of CPU before its first
 * read (bench/README.md, "What each change bought"), for a page most
 * members never serve, and a fastify instance takes no plugin once it is
 * ready.
 */
function lazyFileServer(bundle: string): () => Promise<FastifyInstance> {
  let server: Promise<FastifyInstance> | undefined;
  return () => (server ??= startFileServer(bundle));
}

async function startFileServer(bundle: string): Promise<FastifyInstance> {
  const [{ default: Fastify }, { default: fastifyStatic }] = await Promise.all([import("fastify"), import("@fastify/static")]);
  const server = Fastify({ logger: false });
  await server.register(fastifyStatic, { root: bundle, prefix: UI_PATH, setHeaders: (reply) => reply.headers(PAGE_HEADERS) });
  await server.ready();
  return server;
}

function headersToPass(headers: OutgoingHttpHeaders): OutgoingHttpHeaders {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !OWN_HEADERS.has(name)));
}

function acceptsHtml(request: FastifyRequest): boolean {
  return (request.headers.accept ?? "").includes("text/html");
}
