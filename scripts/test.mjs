// Runs every compiled test file of the workspace in one `node --test` run, so
// that one summary closes the output. Arguments narrow the run to some folders.
// The whole run (no arguments, as `npm test`) also checks lint and formatting
// with Biome (biome.jsonc) first; a finding fails the run once the tests have
// run, so one run reports both.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";

const roots = process.argv.slice(2);
const folders = roots.length > 0 ? roots : workspaceFolders();

function workspaceFolders() {
  const packages = readdirSync("packages").map((name) => join("packages", name));
  return [...packages, "test", "jepsen", "bench"];
}

function testFiles(folder) {
  // Compiled tests sit under dist/test/ in packages and directly in dist/ for the root test/ folder.
  const dir = join(folder, "dist");
  if (!existsSync(dir)) return [];
  const files = [];
  const walk = (path) => {
    for (const name of readdirSync(path)) {
      const full = join(path, name);
      if (statSync(full).isDirectory()) walk(full);
      else if (name.endsWith(".test.js")) files.push(full);
    }
  };
  walk(dir);
  return files;
}

const files = folders.flatMap(testFiles).sort();
if (files.length === 0) {
  console.error("no test files found: run the build first (pnpm run build)");
  process.exit(1);
}
const lintStatus = roots.length > 0 ? 0 : lint();
const concurrency = process.env.TEST_CONCURRENCY ?? "2";
const result = spawnSync(process.execPath, ["--test", `--test-concurrency=${concurrency}`, "--test-reporter=spec", ...files], { stdio: "inherit" });
if (lintStatus !== 0) console.error("biome: lint or format findings (above); `npm run lint` lists them, `npm run format` formats");
process.exit(result.status === 0 ? lintStatus : (result.status ?? 1));

function lint() {
  const biome = spawnSync(join("node_modules", ".bin", "biome"), ["ci", "--error-on-warnings", "."], { stdio: "inherit" });
  return biome.status ?? 1;
}
