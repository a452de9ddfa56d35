/**
 * The local driver's disk faults on real mounts, with a stand-in member (a
 * shell loop appending to a file in its data directory) in place of a
 * server, so each way a member can take a broken disk is shown on its own:
 * it exits with status 74 (started again at the repair, no crash), it stays
 * up (restarted), or it exits otherwise (a crash, as any other, reported
 * with the fatal line of its log). Then a short set run on raftkv under
 * disk-full: no anomaly, no acknowledged add lost. Needs root (mounts, namespaces); the FUSE layer needs Debian's
 * python3-fusepy. Skipped, saying why, without.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { promisify } from "node:util";
import type { DiskFault, DiskLayers } from "../src/harness/disks.js";
import { LocalCluster } from "../src/harness/netns.js";
import { runTest } from "../src/harness/run.js";
import { waitFor } from "../src/harness/wait.js";
import { shortRun, whyNoNamespaces } from "./support/local-runs.js";

const run = promisify(execFile);

async function whyNoFuse(): Promise<string | false> {
  return run("/usr/bin/python3", ["-c", "import fusepy"]).then(
    () => false as const,
    () => "the FUSE layer needs python3-fusepy (apt-get install -y python3-fusepy)",
  );
}

/** What the stand-in does once a write fails. */
type OnFailure = "exit 74" | "exit 1" | "stay up";

/**
 * Says `start`, then appends to a file in its data directory every 50 ms
 * until a write fails, says so, and does what `onFailure` says. `exec`
 * makes the waiting process the member itself, so a SIGKILL stops it.
 */
function standIn(onFailure: OnFailure, dataDir: string): string[] {
  // A member that gives up says why on a fatal line of its log (pino's JSON), which the crash's report quotes.
  const fatalLine = `echo '{"level":60,"msg":"raft loop failed","err":{"message":"no space left"}}'`;
  const then = onFailure === "stay up" ? "exec sleep 600" : `${fatalLine}; ${onFailure}`;
  const loop = `echo start; cd "$1" || exit 2; while head -c 4096 /dev/zero >> appended; do sleep 0.05; done; echo write failed; ${then}`;
  return ["sh", "-c", loop, "stand-in", dataDir];
}

const skip = await whyNoNamespaces();
const noFuse = skip || (await whyNoFuse());
const out = await mkdtemp(join(tmpdir(), "raftkv-disks-test-"));
after(() => rm(out, { recursive: true, force: true }));

describe("disk faults on one stand-in member", { skip }, () => {
  /** Breaks n1's disk, waits for the stand-in to notice (and for its exit, when it exits), repairs it. */
  async function breakAndRepair(name: string, layers: DiskLayers, fault: DiskFault, onFailure: OnFailure) {
    const dir = join(out, name);
    const cluster = await LocalCluster.create({ size: 1, dir, command: (member) => standIn(onFailure, member.dataDir), fakeClocks: false, disks: layers });
    const log = () => (existsSync(join(dir, "logs", "n1.log")) ? readFileSync(join(dir, "logs", "n1.log"), "utf8") : "");
    const namespace = `rkv${new URL(cluster.clientUrl("n1")).hostname.split(".")[2]}n1`;
    const membersLeft = async () => (await run("ip", ["netns", "pids", namespace])).stdout.trim();
    try {
      await cluster.start();
      await waitFor("the stand-in to start", async () => (log().includes("start") ? true : undefined), 30_000);
      await cluster.breakDisk("n1", fault);
      await waitFor("a write to fail", async () => (log().includes("write failed") ? true : undefined), 30_000);
      if (onFailure !== "stay up") await waitFor("the stand-in to exit", async () => ((await membersLeft()) === "" ? true : undefined), 30_000);
      const how = await cluster.repairDisk("n1");
      await waitFor("the stand-in to start again", async () => (log().split("start").length - 1 === 2 ? true : undefined), 30_000);
      return { how, crashes: [...cluster.crashes()], log: log(), dir };
    } finally {
      await cluster.teardown();
    }
  }

  test("a full tmpfs: a member that exits with status 74 is started again, and is no crash", async () => {
    const { how, crashes, dir } = await breakAndRepair("full-74", { full: true, fail: false }, "full", "exit 74");
    assert.equal(how, "started (it had exited with status 74)");
    assert.deepEqual(crashes, []);
    assert.equal(readFileSync("/proc/mounts", "utf8").includes(dir), false, "the tmpfs is unmounted");
    assert.ok(existsSync(join(dir, "data", "n1", "appended")), "the member's files are copied out of the tmpfs");
  });

  test("a full tmpfs: a member that stays up is restarted", async () => {
    const { how, crashes } = await breakAndRepair("full-up", { full: true, fail: false }, "full", "stay up");
    assert.equal(how, "restarted (it was still running)");
    assert.deepEqual(crashes, []);
  });

  test("a full tmpfs: a member that exits with another status is a crash", async () => {
    const { crashes } = await breakAndRepair("full-1", { full: true, fail: false }, "full", "exit 1");
    assert.deepEqual(crashes, ["n1 exited on its own (status 1): raft loop failed: no space left"]);
  });

  test("a failed disk (FUSE): writes fail with EIO until the repair, and the member is started again", { skip: noFuse }, async () => {
    const { how, crashes, dir } = await breakAndRepair("fail-74", { full: false, fail: true }, "fail", "exit 74");
    assert.equal(how, "started (it had exited with status 74)");
    assert.deepEqual(crashes, []);
    assert.equal(readFileSync("/proc/mounts", "utf8").includes(dir), false, "the FUSE layer is unmounted");
    assert.match(readFileSync(join(dir, "logs", "n1.log"), "utf8"), /Input\/output error/);
  });
});

test("a set run on raftkv while members' disks fill: no anomaly, nothing acknowledged lost", { skip, timeout: 240_000 }, async () => {
  const result = await runTest(shortRun({ workload: "set", nemesis: ["disk-full"], seed: 3, out: join(out, "set-disk-full") }), new AbortController().signal);
  assert.equal(result.verdict.valid, true, JSON.stringify(result.verdict.anomalies));
  const history = readFileSync(result.historyPath, "utf8");
  assert.match(history, /"fill [^"]*disk: n\d"/, "a disk was filled");
  assert.match(history, /"repair n\d's disk: /, "and repaired");
  assert.ok(result.availability.ok > 0, "adds were acknowledged");
});
