/**
 * Keeps the DNS benchmark working: its smoke mode must measure every member
 * over both DNS and HTTP, with answers and ordered percentiles.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import type { MemberResult } from "../src/dns.js";

const DNS_BENCH = resolve(dirname(fileURLToPath(import.meta.url)), "../src/dns.js");

test("dns --smoke measures every member over DNS and over HTTP", { timeout: 90_000 }, async () => {
  const outDir = await mkdtemp(join(tmpdir(), "bench-dns-smoke-"));
  try {
    const out = join(outDir, "dns.json");
    // Ports apart from the other benchmarks' and their smoke tests', and below
    // the ephemeral range (32768 and up), where other tests' connections take theirs.
    const args = [DNS_BENCH, "--smoke", "--base-port", "28600", "--out", out];
    const child = spawn(process.execPath, args, { stdio: ["ignore", "inherit", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const exitCode = await new Promise((resolveExit) => child.on("exit", resolveExit));
    assert.equal(exitCode, 0, stderr.slice(-2_000));
    const { results } = JSON.parse(await readFile(out, "utf8")) as { results: MemberResult[] };
    assert.deepEqual(
      results.map((result) => result.member),
      ["m1", "m2", "m3"],
    );
    assert.equal(results.filter((result) => result.role === "leader").length, 1);
    for (const result of results) {
      for (const rate of [result.dns, result.http]) {
        assert.ok(rate.answered > 0 && rate.perSecond > 0, `${result.member}: nothing answered`);
        assert.ok(0 < rate.p50Ms && rate.p50Ms <= rate.p99Ms, `${result.member}: percentiles out of order`);
      }
    }
  } finally {
    await rm(outDir, { recursive: true, force: true });
  }
});
