/**
 * HAProxy (Debian's haproxy) in front of a real cluster, with the shipped
 * configuration: a client going through it keeps working across a leader
 * SIGKILL, and etcdctl's gRPC calls pass through it as HTTP/2. Skipped with a
 * note when haproxy (or, for the second, etcdctl) is not installed.
 */
import assert from "node:assert/strict";
import { execFile, spawn, spawnSync } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve, dirname } from "node:path";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { ProcessCluster, freePort, waitFor } from "./support/process-cluster.js";

const SHIPPED_CONFIG = resolve(dirname(fileURLToPath(import.meta.url)), "../../deploy/haproxy.cfg");
const haproxyInstalled = spawnSync("haproxy", ["-v"], { stdio: "ignore" }).status === 0;
const etcdctlInstalled = spawnSync("etcdctl", ["version"], { stdio: "ignore" }).status === 0;

/** The shipped configuration, pointed at this test's ports. */
async function renderConfig(cluster: ProcessCluster, frontendPort: number): Promise<string> {
  let config = await readFile(SHIPPED_CONFIG, "utf8");
  config = config.replace("bind 127.0.0.1:2378", `bind 127.0.0.1:${frontendPort}`);
  const shippedPorts = ["2379", "22379", "32379"];
  cluster.members.forEach((member, i) => {
    config = config.replaceAll(`127.0.0.1:${shippedPorts[i]} `, `${new URL(member.clientUrl).host} `);
  });
  const path = join(tmpdir(), `raftkv-haproxy-${frontendPort}.cfg`);
  await writeFile(path, config);
  return path;
}

/** A cluster with HAProxy in front of it, both stopped after the test; answers the frontend's port. */
async function clusterBehindHaproxy(): Promise<{ cluster: ProcessCluster; frontendPort: number }> {
  const cluster = await ProcessCluster.start({ size: 3 });
  const frontendPort = await freePort();
  const haproxy = spawn("haproxy", ["-db", "-f", await renderConfig(cluster, frontendPort)], { stdio: "ignore" });
  after(async () => {
    haproxy.kill("SIGKILL");
    await cluster.stop();
  });
  return { cluster, frontendPort };
}

test("a client through HAProxy keeps working across a leader kill", { skip: haproxyInstalled ? false : "haproxy is not installed" }, async () => {
  const { cluster, frontendPort } = await clusterBehindHaproxy();
  const endpoint = `http://127.0.0.1:${frontendPort}`;
  const put = async (key: string) => {
    try {
      const response = await fetch(`${endpoint}/v1/kv/${key}`, { method: "PUT", body: key, signal: AbortSignal.timeout(3_000) });
      return response.ok;
    } catch {
      return false;
    }
  };
  await waitFor("HAProxy serving", async () => put("through-haproxy"));

  const leader = await cluster.waitForLeader();
  await cluster.kill(leader.name);
  const killedAt = Date.now();
  let written = 0;
  let failed = 0;
  while (written < 100) {
    if (await put(`after-kill-${written}`)) written++;
    else failed++;
    assert.ok(Date.now() - killedAt < 20_000, "writes through HAProxy must resume");
  }
  const read = await fetch(`${endpoint}/v1/kv/after-kill-99`);
  assert.equal(await read.text(), "after-kill-99");
  console.log(`through HAProxy: 100 writes after the leader kill in ${Date.now() - killedAt} ms, ${failed} failed attempts`);
});

test("etcdctl's gRPC calls pass through HAProxy as HTTP/2", {
  skip: haproxyInstalled && etcdctlInstalled ? false : "haproxy or etcdctl is not installed",
}, async () => {
  const { frontendPort } = await clusterBehindHaproxy();
  const etcdctl = async (...args: string[]) =>
    (
      await promisify(execFile)("etcdctl", [`--endpoints=127.0.0.1:${frontendPort}`, "--command-timeout=3s", ...args], {
        env: { ...process.env, ETCDCTL_API: "3" },
      })
    ).stdout;
  // Until HAProxy has seen a member pass its health checks, it answers 503 itself.
  await waitFor("etcdctl put through HAProxy", async () =>
    etcdctl("put", "through", "grpc").then(
      (out) => out.trim() === "OK",
      () => false,
    ),
  );
  assert.equal(await etcdctl("get", "through", "--print-value-only"), "grpc\n");
  // The same frontend still serves HTTP/1 clients the gateway.
  const range = await fetch(`http://127.0.0.1:${frontendPort}/v3/kv/range`, { method: "POST", body: JSON.stringify({ key: btoa("through") }) });
  const body = (await range.json()) as { kvs: { value: string }[] };
  assert.equal(body.kvs[0]?.value, btoa("grpc"));
});
