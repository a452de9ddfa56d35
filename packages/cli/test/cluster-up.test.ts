/**
 * End to end: `raftkv cluster up` starts three real node processes that form
 * one cluster; a write through one node is readable through another; SIGTERM
 * stops every node. Needs a working @raftkv/server.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { request } from "undici";
import { CliProcess } from "./support/cli.js";
import { waitUntil } from "./support/wait.js";

const CLIENT_URLS = ["http://127.0.0.1:2379", "http://127.0.0.1:22379", "http://127.0.0.1:32379"] as const;

async function isHealthy(clientUrl: string): Promise<boolean> {
  try {
    const response = await request(`${clientUrl}/health`);
    const body: unknown = await response.body.json().catch(() => undefined);
    const health = typeof body === "object" && body !== null && "health" in body ? body.health : undefined;
    return response.statusCode === 200 && health === "true";
  } catch {
    return false; // not listening yet
  }
}

async function valueAt(clientUrl: string, key: string): Promise<string | undefined> {
  const response = await request(`${clientUrl}/v1/kv/${key}`);
  const body = await response.body.text();
  return response.statusCode === 200 ? body : undefined;
}

/** Whether a process with this pid still exists (zombies included). */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test("cluster up: three nodes replicate a write, and SIGTERM stops them all", { timeout: 90_000 }, async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), "raftkv-cluster-up-"));
  t.after(() => rm(dataDir, { recursive: true, force: true }));
  const cluster = new CliProcess(["cluster", "up", "--nodes", "3", "--data-dir", dataDir]);
  t.after(() => cluster.child.kill("SIGKILL")); // only matters if an assertion failed midway
  const output = (): string => `\n--- cluster up output ---\n${cluster.stdout}${cluster.stderr}`;

  const pids = (): number[] =>
    [...cluster.stdout.matchAll(/n\d started \(pid (\d+)\)/g)].map((match) => Number(match[1]));
  await waitUntil("three node processes", () => pids().length === 3, { timeoutMs: 10_000 });
  await waitUntil(
    `every node to report healthy${output()}`,
    async () => (await Promise.all(CLIENT_URLS.map(isHealthy))).every(Boolean),
    { timeoutMs: 30_000, intervalMs: 200 },
  );

  const [writeTo, readFrom] = CLIENT_URLS;
  const put = await request(`${writeTo}/v1/kv/greeting`, { method: "PUT", body: "hello from n1" });
  await put.body.dump();
  assert.ok(put.statusCode >= 200 && put.statusCode < 300, `PUT answered ${put.statusCode}`);
  // A follower may answer from what it has applied so far; give it a moment
  // to apply rather than test linearizability here (the jepsen suite does).
  const replicated = async (): Promise<boolean> => (await valueAt(readFrom, "greeting")) === "hello from n1";
  await waitUntil(`n2 to serve the write${output()}`, replicated, { timeoutMs: 5_000 });

  const nodePids = pids();
  cluster.child.kill("SIGTERM");
  const { code, signal } = await cluster.finished(20_000);
  assert.deepEqual({ code, signal }, { code: 0, signal: null }, output());
  await waitUntil("every node process to be gone", () => !nodePids.some(isAlive), { timeoutMs: 5_000 });
  assert.match(cluster.stdout, /n1 stopped/);
});
