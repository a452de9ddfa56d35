/**
 * Keeps the growth command working: its smoke mode against raftkv (two tiny
 * sizes, a low snapshot count) must measure every measure at every size,
 * each above zero, and write the section and a chart per measure.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { METRICS, type GrowthResults } from "../src/growth-report.js";
import { wrkInstalled } from "../src/throughput/wrk.js";

const GROWTH = resolve(dirname(fileURLToPath(import.meta.url)), "../src/growth.js");

function runSmoke(outDir: string): Promise<number | null> {
  // Below the ephemeral range and apart from the other smoke tests' ports.
  const args = [GROWTH, "--smoke", "--out", outDir, "--base-port", "29300"];
  return new Promise((resolveExit) => spawn(process.execPath, args, { stdio: "inherit" }).on("exit", resolveExit));
}

test("growth --smoke measures every measure at every size", { timeout: 180_000, skip: wrkInstalled() ? false : "wrk is not installed" }, async () => {
  const outDir = await mkdtemp(join(tmpdir(), "bench-growth-test-"));
  try {
    assert.equal(await runSmoke(outDir), 0);
    const results = JSON.parse(await readFile(join(outDir, "results", "growth.json"), "utf8")) as GrowthResults;
    assert.deepEqual(
      results.points.map((point) => `${point.system} ${point.keys}`),
      ["raftkv 200", "raftkv 400"],
    );
    for (const point of results.points) {
      assert.equal(point.put.errors + point.range.errors, 0, `errors at ${point.keys} keys`);
      assert.equal(point.rssMiB.length, 3);
      assert.equal(point.dataDirMiB.length, 3);
      assert.ok(point.snapshotCreate.mib > 0, `empty snapshot at ${point.keys} keys`);
      assert.ok(point.snapshotInstall.entriesWhileDown > 0);
      for (const metric of METRICS) assert.ok(metric.value(point) > 0, `${metric.title} at ${point.keys} keys: ${metric.value(point)}`);
    }
    const markdown = await readFile(join(outDir, "RESULTS.md"), "utf8");
    for (const metric of METRICS) {
      assert.match(markdown, new RegExp(`\\| ${metric.title} \\(${metric.unit}\\) \\| \\d`));
      assert.match(await readFile(join(outDir, "results", `growth-${metric.id}.svg`), "utf8"), /<polyline points="[\d.]+,[\d.]+ [\d.]+,[\d.]+"/);
    }
  } finally {
    await rm(outDir, { recursive: true, force: true });
  }
});
