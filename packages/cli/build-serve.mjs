// Bundles a member's entry (bin/raftkv-serve.js, `raftkv serve` alone) and
// everything it imports into dist/raftkv-serve.js. Node then reads one file
// where it read about a thousand (each one found, stat'ed, read and wrapped),
// so a member starts, and a restarted one serves again, sooner. Modules the
// member imports only once Raft runs (the client APIs) stay lazy: esbuild
// evaluates a dynamic import's module when it is first imported.
import { build } from "esbuild";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const outfile = join(here, "dist/raftkv-serve.js");

// Packages that find files beside their own at run time (a native addon, by
// their own location) cannot move into the bundle: they are imported from
// where they are installed, by a path relative to the bundle.
const IN_PLACE = ["classic-level", "msgpackr"];

/** @type {import("esbuild").Plugin} */
const importInPlace = {
  name: "import-in-place",
  setup(bundle) {
    const filter = new RegExp(`^(${IN_PLACE.join("|")})$`);
    bundle.onResolve({ filter }, async ({ path, resolveDir, kind, pluginData }) => {
      if (pluginData === "in-place") return undefined;
      const found = await bundle.resolve(path, { resolveDir, kind, pluginData: "in-place" });
      if (found.errors.length > 0) return { errors: found.errors };
      return { path: `./${relative(dirname(outfile), found.path)}`, external: true };
    });
  },
};

await build({
  entryPoints: [join(here, "bin/raftkv-serve.js")],
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  outfile,
  plugins: [importInPlace],
  // CommonJS dependencies call require() for Node's own modules; an ES module has none of its own.
  banner: { js: 'import { createRequire as createRequireForBundle } from "node:module"; const require = createRequireForBundle(import.meta.url);' },
  logLevel: "warning",
});
