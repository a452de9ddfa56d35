/**
 * Python's etcd3 client (Debian's python3-etcd3), unchanged, against a real
 * cluster over gRPC: put, get, prefix, delete, a transaction, a lease, a lock
 * and a watch, each checked by test/python/etcd3_operations.py.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { ProcessCluster } from "./support/process-cluster.js";

const run = promisify(execFile);
const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), "../python/etcd3_operations.py");
/** Debian's interpreter, where python3-etcd3 is installed (another python3 may come first on PATH). */
const PYTHON = "/usr/bin/python3";

test("python-etcd3's own operations work against a member that does not lead", async (t) => {
  const cluster = await ProcessCluster.start({ size: 3 });
  t.after(() => cluster.stop());
  const leader = await cluster.waitForLeader();
  const follower = cluster.members.find((member) => member !== leader)!;
  const { hostname, port } = new URL(follower.clientUrl);
  const { stdout } = await run(PYTHON, [SCRIPT, hostname, port], { timeout: 60_000 });
  assert.deepEqual(stdout.trim().split("\n"), [
    "get 1 py/a 1",
    "prefix [('1', 'py/a'), ('2', 'py/b')]",
    "missing None",
    "delete True False",
    "txn True then",
    "lease 60 ['py/leased'] True",
    "revoked None -1",
    "lock True True",
    "held elsewhere False",
    "released True",
    "watch True ['PutEvent:py/w1', 'DeleteEvent:py/w1']",
  ]);
});
