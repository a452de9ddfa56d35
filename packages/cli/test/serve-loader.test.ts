/**
 * The loader that runs a member's bundle with V8's code cache
 * (src/serve-loader.ts), on a stand-in bundle in a child process: the first
 * run writes the cache, the next uses it, and a cache V8 refuses or one made
 * for an earlier build is not used. And on the member's own bundle: the
 * build made its cache, and a member started as launchers start it takes it.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { memberCommand } from "../src/member-process.js";
import { codeCacheFile } from "../src/serve-loader.js";

const LOADER = new URL("../src/serve-loader.js", import.meta.url).href;
const MEMBER_BUNDLE = new URL("../raftkv-serve.cjs", import.meta.url);

/**
 * Says whether it was asked to write the cache; if so, says it has started
 * and waits until the cache files beside it change.
 */
const STAND_IN_BUNDLE = `
const { readdirSync, statSync } = require("node:fs");
const cacheFiles = () => readdirSync(__dirname).filter((name) => name.endsWith(".cache")).map((name) => name + ":" + statSync(__dirname + "/" + name).mtimeMs).join();
exports.runServe = async (argv, hooks) => {
  process.stdout.write(hooks.onStarted ? "writes the cache" : "uses the cache");
  if (!hooks.onStarted) return 0;
  const before = cacheFiles();
  hooks.onStarted();
  while (cacheFiles() === before) await new Promise((resolve) => setTimeout(resolve, 20));
  return 0;
};
`;

async function standInBundle(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "raftkv-serve-loader-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const bundle = join(dir, "member.cjs");
  await writeFile(bundle, STAND_IN_BUNDLE);
  return bundle;
}

async function runThroughLoader(bundle: string): Promise<string> {
  const script = `import { runMemberBundle } from ${JSON.stringify(LOADER)}; runMemberBundle(new URL(${JSON.stringify(pathToFileURL(bundle).href)}));`;
  const { stdout } = await promisify(execFile)(process.execPath, ["--input-type=module", "--eval", script], { timeout: 20_000 });
  return stdout;
}

test("the first run writes a code cache and the next one uses it", async (t) => {
  const bundle = await standInBundle(t);
  assert.equal(await runThroughLoader(bundle), "writes the cache");
  assert.ok(readFileSync(codeCacheFile(bundle)).length > 0);
  assert.equal(await runThroughLoader(bundle), "uses the cache");
});

test("a cache V8 refuses is written again", async (t) => {
  const bundle = await standInBundle(t);
  await writeFile(codeCacheFile(bundle), "not a code cache");
  assert.equal(await runThroughLoader(bundle), "writes the cache");
  assert.notEqual(readFileSync(codeCacheFile(bundle), "utf8"), "not a code cache");
  assert.equal(await runThroughLoader(bundle), "uses the cache");
});

test("a bundle that is not ASCII is read as UTF-8", async (t) => {
  const bundle = await standInBundle(t);
  await writeFile(bundle, `exports.runServe = async () => (process.stdout.write("100 µs, §5.4"), 0);`);
  assert.equal(await runThroughLoader(bundle), "100 µs, §5.4");
});

test("a rebuilt bundle does not read the cache of the build before", async (t) => {
  const bundle = await standInBundle(t);
  assert.equal(await runThroughLoader(bundle), "writes the cache");
  const rebuiltAt = new Date(Date.now() + 60_000);
  await utimes(bundle, rebuiltAt, rebuiltAt);
  assert.equal(await runThroughLoader(bundle), "writes the cache");
});

test("the build makes the member bundle's code cache, and a member started as every launcher starts one takes it", async () => {
  const script = `import { compileBundle } from ${JSON.stringify(LOADER)}; process.stdout.write(String(compileBundle(${JSON.stringify(fileURLToPath(MEMBER_BUNDLE))}).cacheTaken));`;
  // Node.js flags first, as memberCommand places a launcher's own: --eval runs instead of the member's entry, with the member's V8 flags.
  const { command, args } = memberCommand([], ["--input-type=module", "--eval", script]);
  const { stdout } = await promisify(execFile)(command, args, { timeout: 20_000 });
  assert.equal(stdout, "true", `no code cache V8 takes beside ${fileURLToPath(MEMBER_BUNDLE)}: run \`npm run build\``);
});
