/**
 * Where a member's process starts (bin/raftkv-serve.js, bundled into
 * dist/raftkv-serve-loader.cjs): it runs the member's bundle, dist/raftkv-serve.cjs,
 * with V8's code cache. Node.js 20 keeps no compiled code between runs
 * (`module.enableCompileCache` arrived in 22), so every start parsed the
 * whole bundle and compiled each function again on its first call; a
 * restarted member spent about a fifth of its CPU up to its first read on
 * that. Compiled from a script (vm.Script) with the bytes a previous start
 * left, the bundle skips both.
 *
 * The cache lies beside the bundle, named after the bundle's size and
 * modification time: V8 checks that a cache was made by the same V8 with
 * the same flags and for a source of the same length, not the same text,
 * so a cache is never read for any build but its own (build-serve.mjs also
 * deletes the old ones). The build makes the cache (build-code-cache.mjs);
 * a member that found no usable one writes one a second after it has
 * started, by then holding what start-up compiled, the first requests
 * included; a directory it may not write to just means no cache. A cache V8
 * refuses (another Node.js, other flags) costs only the normal compilation,
 * and is written again.
 */
import { isAscii } from "node:buffer";
import { readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Script } from "node:vm";
import type { ServeHooks } from "./serve-main.js";

/** How long after start-up the cache is written, so that it holds the first requests' code as well. */
const WRITE_AFTER_START_MS = 1_000;

/** What the bundle of serve-main.ts exports. */
interface MemberBundle {
  runServe(argv: readonly string[], hooks: ServeHooks): Promise<number>;
}

/** Runs `raftkv serve …` from process.argv in the bundle at `bundleUrl`, then exits with its code. */
export function runMemberBundle(bundleUrl: URL): void {
  const bundle = fileURLToPath(bundleUrl);
  const cacheFile = codeCacheFile(bundle);
  const { script, cacheTaken } = compileBundle(bundle, cacheFile);
  const mustWriteCache = !cacheTaken;
  const { runServe } = evaluate(script, bundle);
  const onStarted = (): void => void setTimeout(() => writeCodeCache(script, cacheFile), WRITE_AFTER_START_MS).unref();
  void runServe(process.argv, mustWriteCache ? { onStarted } : {}).then((code) => process.exit(code));
}

/** The bundle compiled as a script, with its code cache when there is one; whether V8 took the cache. */
export function compileBundle(bundle: string, cacheFile = codeCacheFile(bundle)): { script: Script; cacheTaken: boolean } {
  const cachedData = readIfPresent(cacheFile);
  const script = new Script(wrapAsModule(readSource(bundle)), { filename: bundle, ...(cachedData && { cachedData }) });
  return { script, cacheTaken: cachedData !== undefined && script.cachedDataRejected !== true };
}

/** `<dir>/<name>.<size>-<mtime>.cache` for `<dir>/<name>.cjs`; a rebuilt bundle gets a new name. */
export function codeCacheFile(bundle: string): string {
  const { size, mtimeMs } = statSync(bundle);
  return join(dirname(bundle), `${basename(bundle, ".cjs")}.${size}-${Math.round(mtimeMs)}.cache`);
}

/**
 * An ASCII file (as build-serve.mjs makes the bundle) is read without UTF-8
 * decoding (15-20 ms of CPU for the bundle) into a one-byte string (half the
 * memory of the two-byte one a single other character makes).
 */
function readSource(file: string): string {
  const bytes = readFileSync(file);
  return bytes.toString(isAscii(bytes) ? "latin1" : "utf8");
}

/** A CommonJS module's source as a function of its free variables, as Node.js wraps it. */
function wrapAsModule(source: string): string {
  return `(function (exports, require, module, __filename, __dirname) {${source}\n})`;
}

function evaluate(script: Script, bundle: string): MemberBundle {
  const module = { exports: {} };
  const run = script.runInThisContext() as (...args: unknown[]) => void;
  run(module.exports, createRequire(bundle), module, bundle, dirname(bundle));
  return module.exports as MemberBundle;
}

function readIfPresent(file: string): Buffer | undefined {
  try {
    return readFileSync(file);
  } catch {
    return undefined;
  }
}

/** Written under another name and renamed, so that a member starting meanwhile reads a whole cache or none. */
function writeCodeCache(script: Script, cacheFile: string): void {
  const partial = `${cacheFile}.${process.pid}.partial`;
  try {
    writeFileSync(partial, script.createCachedData());
    renameSync(partial, cacheFile);
  } catch {
    // A read-only installation: members start without the cache.
    rmSync(partial, { force: true });
  }
}
