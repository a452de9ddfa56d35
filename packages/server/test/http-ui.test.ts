/** The dashboard plugin with inject(): where a browser lands, what the page may load, and an unbuilt bundle. */
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import Fastify, { type FastifyInstance } from "fastify";
import { uiPlugin } from "../src/http/ui.js";

const folders: string[] = [];
after(async () => Promise.all(folders.map((folder) => rm(folder, { recursive: true, force: true }))));

async function appServing(files: Record<string, string>): Promise<FastifyInstance> {
  const bundle = await mkdtemp(join(tmpdir(), "raftkv-ui-"));
  folders.push(bundle);
  for (const [name, content] of Object.entries(files)) await writeFile(join(bundle, name), content);
  const app = Fastify();
  await app.register(uiPlugin(bundle));
  return app;
}

test("a browser at / is sent to /ui/, other clients get a 404", async () => {
  const app = await appServing({ "index.html": "<!doctype html>" });
  const browser = await app.inject({ url: "/", headers: { accept: "text/html,application/xhtml+xml" } });
  assert.equal(browser.statusCode, 302);
  assert.equal(browser.headers.location, "/ui/");
  assert.equal((await app.inject({ url: "/", headers: { accept: "*/*" } })).statusCode, 404);
  const withoutSlash = await app.inject({ url: "/ui" });
  assert.equal(withoutSlash.statusCode, 302);
  assert.equal(withoutSlash.headers.location, "/ui/");
});

test("the page and its files come from the bundle, with a policy that allows nothing from elsewhere", async () => {
  const app = await appServing({ "index.html": "<!doctype html><title>raftkv</title>", "app.js": "export {};" });
  const page = await app.inject({ url: "/ui/" });
  assert.equal(page.statusCode, 200);
  assert.match(String(page.headers["content-type"]), /text\/html/);
  assert.match(page.body, /<title>raftkv<\/title>/);
  assert.match(String(page.headers["content-security-policy"]), /default-src 'self'/);
  assert.equal(page.headers["x-content-type-options"], "nosniff");
  const script = await app.inject({ url: "/ui/app.js" });
  assert.match(String(script.headers["content-type"]), /javascript/);
  assert.equal((await app.inject({ url: "/ui/missing.js" })).statusCode, 404);
  assert.equal((await app.inject({ url: "/ui/../package.json" })).statusCode, 404);
});

test("a browser revalidates its copy of a file by its ETag, and HEAD gives the file's headers alone", async () => {
  const app = await appServing({ "index.html": "<!doctype html>", "app.js": "export const page = 1;" });
  const first = await app.inject({ url: "/ui/app.js" });
  assert.ok(first.headers.etag, "the file comes with an ETag");
  const again = await app.inject({ url: "/ui/app.js", headers: { "if-none-match": String(first.headers.etag) } });
  assert.equal(again.statusCode, 304);
  assert.equal(again.body, "");
  const head = await app.inject({ method: "HEAD", url: "/ui/app.js" });
  assert.equal(head.statusCode, 200);
  assert.equal(head.body, "");
  assert.match(String(head.headers["content-type"]), /javascript/);
  assert.equal(head.headers["content-security-policy"], first.headers["content-security-policy"]);
});

test("a member whose dashboard was not built says how to build it", async () => {
  const app = await appServing({});
  const reply = await app.inject({ url: "/ui/" });
  assert.equal(reply.statusCode, 503);
  assert.match(reply.body, /npm run build/);
});
