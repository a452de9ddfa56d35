// Bundles a member's code (src/serve-main.ts, `raftkv serve` alone) and
// everything it imports into dist/raftkv-serve.cjs, and the file launchers
// start, bin/raftkv-serve.js, into dist/raftkv-serve-loader.cjs: it runs the
// bundle with V8's code cache (src/serve-loader.ts). Node then reads one file where
// it read about a thousand (each one found, stat'ed, read and wrapped), so a
// member starts, and a restarted one serves again, sooner. Modules the member
// imports only once Raft runs (the client APIs) stay lazy: esbuild evaluates
// a dynamic import's module when it is first imported. The bundle is
// CommonJS because a code cache is for scripts: Node.js 20 has none for ES
// modules.
import { routeSchemaModule } from "@raftkv/server/route-code";
import { build } from "esbuild";
import { createRequire } from "node:module";
import { readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const outfile = join(here, "dist/raftkv-serve.cjs");

// Two packages load a native addon through a finder that looks beside its own
// file at run time (node-gyp-build and its optional-packages fork); bundled,
// it would look beside the bundle. Their loaders become a require of the addon
// the finder picks here, at build time, on the machine that runs the bundle:
// their JavaScript is bundled like the rest, and the member no longer resolves
// and reads their dozens of files (and checks the C library) at each start.
const require = createRequire(import.meta.url);
const NATIVE_LOADERS = [
  { loader: "classic-level/binding.js", finder: "node-gyp-build" },
  { loader: "msgpackr-extract/index.js", finder: "node-gyp-build-optional-packages" },
];

/** @type {import("esbuild").Plugin} */
const nativeAddonsInPlace = {
  name: "native-addons-in-place",
  setup(bundle) {
    const filter = new RegExp(`/(${NATIVE_LOADERS.map(({ loader }) => loader.replace(".", "\\.")).join("|")})$`);
    bundle.onLoad({ filter }, ({ path }) => {
      const { finder } = NATIVE_LOADERS.find(({ loader }) => path.endsWith(`/${loader}`));
      const packageDir = dirname(path);
      const addon = require(require.resolve(finder, { paths: [packageDir] })).path(packageDir);
      return { contents: `module.exports = require(${JSON.stringify(`./${relative(dirname(outfile), addon)}`)});`, loader: "js" };
    });
    bundle.onResolve({ filter: /\.node$/ }, ({ path }) => ({ path, external: true }));
  },
};

// The code fastify's compilers make for every route's schemas, generated
// from the member's own routes (server http/route-code.ts) in place of the
// empty precompiled-routes module: a restarted member's first requests then
// run code from the bundle, which V8's code cache keeps, instead of setting
// up Ajv and compiling each route with `new Function` at every start.
const routeSchemaCode = await routeSchemaModule();
let routeSchemaCodeBundled = false;
/** @type {import("esbuild").Plugin} */
const precompiledRoutes = {
  name: "precompiled-routes",
  setup(bundle) {
    // A module of its own, outside the server's ES module package: the generated code is CommonJS.
    bundle.onResolve({ filter: /^\.\/precompiled-routes\.js$/ }, () => ({ path: "precompiled-routes.cjs", namespace: "generated" }));
    bundle.onLoad({ filter: /.*/, namespace: "generated" }, () => {
      routeSchemaCodeBundled = true;
      return { contents: routeSchemaCode, loader: "js", resolveDir: here };
    });
    // Members would still work without it, compiling at run time: a rename must fail the build instead.
    bundle.onEnd(() => {
      if (!routeSchemaCodeBundled)
        throw new Error("build-serve: the server's precompiled-routes module was not found, so the routes' generated code is not in the bundle");
    });
  },
};

/** What both outputs share: everything their entry imports, for this Node.js. */
const NODE_BUNDLE = { bundle: true, platform: "node", target: "node20", logLevel: "warning" };

await build({
  ...NODE_BUNDLE,
  entryPoints: [join(here, "dist/src/serve-main.js")],
  format: "cjs",
  outfile,
  // V8 keeps a script's whole source for as long as it runs (functions compile
  // lazily from it) and an array of its line ends: 6 MiB of every member's heap
  // for the indented bundle, 3 for this one. Names stay as written, so a stack
  // trace still says which function; its line and column point into long lines.
  minifyWhitespace: true,
  plugins: [nativeAddonsInPlace, precompiledRoutes],
  // Our modules are ES modules: import.meta means the bundle's own file here.
  define: { "import.meta.url": "bundleUrl", "import.meta.resolve": "resolveFromBundle" },
  banner: {
    js: 'const bundleUrl = require("node:url").pathToFileURL(__filename).href; const resolveFromBundle = (specifier) => require("node:url").pathToFileURL(require.resolve(specifier)).href;',
  },
});

// esbuild escapes what is not ASCII in strings, regular expressions and
// names, but not in comments (a µ, a §). One such character makes the loader's
// read decode the whole file as UTF-8 and keep it as a two-byte string, twice
// the memory; escaped, the bundle is ASCII and is read as such (see
// src/serve-loader.ts). A \u escape means the same character wherever it may
// stand in JavaScript, and in a comment it is only text.
const bundled = readFileSync(outfile, "utf8");
writeFileSync(
  outfile,
  bundled.replace(/[^\0-\x7f]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`),
);

// CommonJS too: Node.js starts an ES module main file through its ES module
// loader, which sets itself up and wraps each built-in the file imports
// (about 5 ms of a member's CPU at each start); a CommonJS one is simply run.
await build({
  ...NODE_BUNDLE,
  entryPoints: [join(here, "bin/raftkv-serve.js")],
  format: "cjs",
  outfile: join(here, "dist/raftkv-serve-loader.cjs"),
  define: { "import.meta.url": "loaderUrl" },
  banner: { js: 'const loaderUrl = require("node:url").pathToFileURL(__filename).href;' },
});

// Code caches of earlier builds (see src/serve-loader.ts).
for (const name of readdirSync(dirname(outfile))) {
  if (/^raftkv-serve\..*\.cache$/.test(name)) rmSync(join(dirname(outfile), name));
}
