/**
 * A one-member etcd (Debian's etcd 3.4) on loopback, for the tests that send
 * the same requests to etcd and to raftkv and compare the answers.
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, waitFor } from "./process-cluster.js";

export const HAS_ETCD = spawnSync("etcd", ["--version"]).status === 0;

export interface Etcd {
  readonly clientUrl: string;
  stop(): Promise<void>;
}

/** Starts etcd in a fresh data directory with these extra flags and waits until it serves. */
export async function startEtcd(extraFlags: readonly string[] = []): Promise<Etcd> {
  const dir = await mkdtemp(join(tmpdir(), "raftkv-etcd-"));
  const [clientPort, peerPort] = [await freePort(), await freePort()];
  const clientUrl = `http://127.0.0.1:${clientPort}`;
  const peerUrl = `http://127.0.0.1:${peerPort}`;
  const child = spawn(
    "etcd",
    [
      "--name=e1",
      `--data-dir=${join(dir, "e1")}`,
      `--listen-client-urls=${clientUrl}`,
      `--advertise-client-urls=${clientUrl}`,
      `--listen-peer-urls=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=e1=${peerUrl}`,
      ...extraFlags,
    ],
    { stdio: "ignore" },
  );
  const exited = new Promise((resolve) => child.once("exit", resolve));
  await waitFor("etcd to serve", async () => (await fetch(`${clientUrl}/health`)).ok);
  return {
    clientUrl,
    async stop() {
      child.kill();
      await exited;
      await rm(dir, { recursive: true, force: true });
    },
  };
}
