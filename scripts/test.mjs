// Runs every compiled test file of the workspace in one `node --test` run, so
// that one summary closes the output. Arguments narrow the run to some folders.
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
const concurrency = process.env.TEST_CONCURRENCY ?? "2";
const result = spawnSync(
  process.execPath,
  ["--test", `--test-concurrency=${concurrency}`, "--test-reporter=spec", ...files],
  { stdio: "inherit" },
);
process.exit(result.status ?? 1);
