/**
 * End to end: `raftkv cluster up` starts three real node processes that form
 * one cluster; a write through one node is readable through another; SIGTERM
 * stops every node; a node whose disk fills exits with status 74 and is
 * started again. Needs a working @raftkv/server.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
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

  const pids = (): number[] => [...cluster.stdout.matchAll(/n\d started \(pid (\d+)\)/g)].map((match) => Number(match[1]));
  await waitUntil("three node processes", () => pids().length === 3, { timeoutMs: 10_000 });
  await waitUntil(`every node to report healthy${output()}`, async () => (await Promise.all(CLIENT_URLS.map(isHealthy))).every(Boolean), {
    timeoutMs: 30_000,
    intervalMs: 200,
  });

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

/** Whether this process may mount a tmpfs, as CI (root) may. */
function canMountTmpfs(): boolean {
  return process.getuid?.() === 0 && spawnSync("mount", ["--version"]).status === 0;
}

test("cluster up restarts a node that exits with status 74 after its disk filled", {
  timeout: 120_000,
  skip: !canMountTmpfs() && "needs root to mount a tmpfs",
}, async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), "raftkv-cluster-up-disk-"));
  const n2Dir = join(dataDir, "n2");
  await mkdir(n2Dir);
  assert.equal(spawnSync("mount", ["-t", "tmpfs", "-o", "size=16m", "tmpfs", n2Dir]).status, 0, "mount a tmpfs for n2");
  t.after(async () => {
    spawnSync("umount", ["-l", n2Dir]);
    await rm(dataDir, { recursive: true, force: true });
  });
  // No reserve: the disk is to fill, not to raise NOSPACE first.
  const cluster = new CliProcess(["cluster", "up", "--nodes", "3", "--data-dir", dataDir, "--wal-reserve-bytes", "0"]);
  t.after(() => cluster.child.kill("SIGKILL"));
  const output = (): string => `\n--- cluster up output ---\n${cluster.stdout}${cluster.stderr}`;
  await waitUntil(`every node to report healthy${output()}`, async () => (await Promise.all(CLIENT_URLS.map(isHealthy))).every(Boolean), {
    timeoutMs: 30_000,
    intervalMs: 200,
  });

  const filler = join(n2Dir, "filler");
  // dd writes zeros until the filesystem is full, then fails with "No space left on device".
  assert.match(spawnSync("dd", ["if=/dev/zero", `of=${filler}`, "bs=256k"], { encoding: "utf8" }).stderr, /No space left/);
  let written = 0;
  await waitUntil(
    `n2 to exit with status 74${output()}`,
    async () => {
      const put = await request(`${CLIENT_URLS[0]}/v1/kv/fill-${++written}`, { method: "PUT", body: "x".repeat(1024) }).catch(() => undefined);
      await put?.body.dump();
      return /n2 exited with status 74: its storage failed; restarting it/.test(cluster.stdout);
    },
    { timeoutMs: 30_000, intervalMs: 10 },
  );
  await rm(filler);
  await waitUntil(`n2 to be started again${output()}`, () => [...cluster.stdout.matchAll(/n2 started \(pid \d+\)/g)].length === 2, { timeoutMs: 30_000 });
  await waitUntil(`n2 to report healthy again${output()}`, () => isHealthy(CLIENT_URLS[1]), { timeoutMs: 30_000, intervalMs: 200 });

  cluster.child.kill("SIGTERM");
  const { code, signal } = await cluster.finished(20_000);
  assert.deepEqual({ code, signal }, { code: 0, signal: null }, output());
});
