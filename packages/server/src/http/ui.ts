/**
 * The dashboard at /ui/: the static bundle the build makes from
 * packages/server/ui (ui/dist, not committed), and `/` sending a browser
 * there. The page calls this member's public APIs like any client; the
 * plugin adds no route of its own besides the files and the redirect.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import fastifyStatic from "@fastify/static";
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
    await app.register(fastifyStatic, {
      root: bundle,
      prefix: UI_PATH,
      setHeaders: (reply) => reply.headers(PAGE_HEADERS),
    });
  };
}

function acceptsHtml(request: FastifyRequest): boolean {
  return (request.headers.accept ?? "").includes("text/html");
}
