/**
 * Keeps the gRPC benchmark working: its smoke mode, against raftkv and etcd
 * side by side (raftkv alone where etcd is not installed), must measure
 * every row for every system and put each in the markdown table with its
 * figures. A watch event's delay may rightly be 0 (etcd often delivers an
 * event before it acknowledges the put), so only its rate must be above 0.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { etcdInstalled } from "../src/clusters.js";
import { DEFAULT_ROWS, rowTitle } from "../src/grpc/options.js";
import type { GrpcResults } from "../src/grpc/report.js";

const GRPC_BENCH = resolve(dirname(fileURLToPath(import.meta.url)), "../src/grpc.js");

async function runSmoke(outDir: string, ...extra: string[]): Promise<void> {
  // Ports apart from the other benchmarks' and their smoke tests' (raftkv from
  // 28400, etcd from 29400), below the ephemeral range where other tests' connections take theirs.
  const args = [GRPC_BENCH, "--smoke", "--base-port", "28400", "--out", outDir, ...extra];
  const child = spawn(process.execPath, args, { stdio: ["ignore", "inherit", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const exitCode = await new Promise((resolveExit) => child.on("exit", resolveExit));
  assert.equal(exitCode, 0, stderr.slice(-2_000));
}

test("grpc --smoke measures every row against both systems", { timeout: 240_000 }, async () => {
  const outDir = await mkdtemp(join(tmpdir(), "bench-grpc-smoke-"));
  try {
    await runSmoke(outDir);
    const results = JSON.parse(await readFile(join(outDir, "grpc.json"), "utf8")) as GrpcResults;
    const systems = etcdInstalled() ? ["raftkv", "etcd"] : ["raftkv"];
    const rowNames = DEFAULT_ROWS.split(",");
    assert.equal(results.rows.length, rowNames.length * systems.length);
    for (const result of results.rows) {
      const where = `${result.system}: ${rowTitle(result.row)}`;
      assert.ok(result.rate > 0 && result.completed > 0, `nothing measured for ${where}`);
      assert.equal(result.errors, 0, `errors for ${where}: ${result.firstError}`);
      assert.ok(result.p50Ms <= result.p99Ms, `percentiles out of order for ${where}`);
      if (result.row.kind === "watch") assert.ok(result.writerPutsPerS! > 0, `no puts acknowledged to the writer for ${where}`);
      else assert.ok(result.p50Ms > 0, `no latency for ${where}`);
      assert.ok(result.generatorCpuPercent > 0 && result.serverCpuPercent.length === 3, `no CPU figures for ${where}`);
    }
    const page = await readFile(join(outDir, "grpc.md"), "utf8");
    const titles = new Set(results.rows.map((result) => rowTitle(result.row)));
    assert.equal(titles.size, rowNames.length);
    for (const title of titles) {
      const line = page.split("\n").find((candidate) => candidate.startsWith(`| ${title} |`));
      assert.ok(line, `no table line for ${title}`);
      const [raftkvRate, etcdRate] = line
        .split("|")
        .slice(2, 4)
        .map((cell) => Number(cell.trim()));
      assert.ok(raftkvRate! > 0, `no raftkv rate in: ${line}`);
      if (systems.includes("etcd")) assert.ok(etcdRate! > 0, `no etcd rate in: ${line}`);
    }
  } finally {
    await rm(outDir, { recursive: true, force: true });
  }
});

test("grpc --security tls+auth: both systems serve the calls over TLS with a token, and the report says so", { timeout: 240_000 }, async () => {
  const outDir = await mkdtemp(join(tmpdir(), "bench-grpc-secure-"));
  try {
    await runSmoke(outDir, "--rows", "put:2", "--security", "tls+auth");
    const results = JSON.parse(await readFile(join(outDir, "grpc.json"), "utf8")) as GrpcResults;
    assert.equal(results.settings.security, "tls+auth");
    assert.equal(results.rows.length, etcdInstalled() ? 2 : 1);
    for (const result of results.rows) {
      assert.ok(result.completed > 0, `nothing measured for ${result.system}`);
      assert.equal(result.errors, 0, `errors for ${result.system}: ${result.firstError}`);
    }
    assert.match(await readFile(join(outDir, "grpc.md"), "utf8"), /client TLS and auth on/);
  } finally {
    await rm(outDir, { recursive: true, force: true });
  }
});
