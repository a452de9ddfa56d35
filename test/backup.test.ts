/**
 * Backup and restore with the real command line: `raftkv snapshot save` from
 * a running cluster, `snapshot status`, `snapshot restore` into a new
 * cluster's data directories, and the new cluster serves exactly that data.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { promisify } from "node:util";
import { ProcessCluster, RAFTKV_BIN } from "./support/process-cluster.js";

const run = promisify(execFile);
const raftkv = (...args: string[]) => run(process.execPath, [RAFTKV_BIN, ...args], { timeout: 60_000 });

async function listPrefix(clientUrl: string, prefix: string): Promise<Record<string, string>> {
  const response = await fetch(`${clientUrl}/v1/kv/${prefix}?prefix`);
  const body = (await response.json()) as { kvs?: { key: string; value: string }[] };
  return Object.fromEntries((body.kvs ?? []).map((kv) => [kv.key, kv.value]));
}

test("a cluster restored from a backup serves exactly the backed-up data", async () => {
  const original = await ProcessCluster.start({ size: 3 });
  after(async () => original.stop());
  const source = original.members[0]!.clientUrl;
  for (let i = 0; i < 50; i++) await fetch(`${source}/v1/kv/app/${i}`, { method: "PUT", body: `value ${i}` });
  const backedUp = await listPrefix(source, "app/");
  assert.equal(Object.keys(backedUp).length, 50);

  const file = join(await mkdtemp(join(tmpdir(), "raftkv-backup-")), "backup.snap");
  const saved = await raftkv("snapshot", "save", file, "--endpoints", original.members.map((m) => m.clientUrl).join(","));
  assert.match(saved.stdout, /Snapshot saved/);
  // Written after the backup: must not appear in the restored cluster.
  await fetch(`${source}/v1/kv/app/later`, { method: "PUT", body: "too late" });

  const status = JSON.parse((await raftkv("snapshot", "status", file, "--write-out", "json")).stdout) as { keyCount: number; sha256: string };
  assert.equal(status.keyCount, 50);
  assert.match(status.sha256, /^[0-9a-f]{64}$/);

  const restored = await ProcessCluster.start({
    size: 3,
    prepare: async (members, initialCluster) => {
      for (const member of members) await raftkv("snapshot", "restore", file, "--data-dir", member.dataDir, "--initial-cluster", initialCluster);
    },
  });
  after(async () => restored.stop());
  for (const member of restored.members) assert.deepEqual(await listPrefix(member.clientUrl, "app/"), backedUp);
  const write = await fetch(`${restored.members[1]!.clientUrl}/v1/kv/app/new`, { method: "PUT", body: "new cluster" });
  assert.equal(write.status, 200, "the restored cluster takes writes");
});
