/**
 * The compose cluster in real containers (docker-compose.yml): three members
 * behind two HAProxy load balancers sharing a virtual IP through Keepalived.
 * A client container on the compose network writes through the virtual IP
 * while the active balancer is killed and while a member is killed; every
 * acknowledged write must survive, and the data must outlive a
 * `docker-compose restart`. Then the fault-injection harness's docker driver
 * runs a short register workload through the virtual IP under member kills,
 * partitions and kills of the active balancer, and must find no anomaly.
 *
 * Needs a running Docker engine and the images of scripts/docker-images.sh;
 * it runs when RAFTKV_DOCKER_TESTS=1 (.ci/run sets it after building them),
 * because it takes down and recreates the compose cluster of this checkout.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { b64, postJson, unb64, waitFor } from "./support/process-cluster.js";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const WRITER_SCRIPT = join(REPO, "test/dist/support/vip-writer.js");
const VIRTUAL_IP_URL = "http://10.79.0.100:2379";
const NETWORK = "raftkv";
const WRITER = "raftkv-test-writer";
const MEMBER_PORTS = [23791, 23792, 23793];
const BALANCERS = [
  { container: "raftkv-lb1", url: "http://127.0.0.1:23781" },
  { container: "raftkv-lb2", url: "http://127.0.0.1:23782" },
];
const skip = process.env.RAFTKV_DOCKER_TESTS === "1" ? false : "set RAFTKV_DOCKER_TESTS=1 with Docker running and the images built (scripts/docker-images.sh)";

const HARNESS = join(REPO, "jepsen/dist/src/harness/main.js");
/** A seed whose schedule of kill, partition and balancer faults includes each kind at least once. */
const HARNESS_SEED = "4";

const run = promisify(execFile);

async function docker(...args: string[]): Promise<string> {
  return (await run("docker", args, { maxBuffer: 64 << 20 })).stdout;
}

async function compose(...args: string[]): Promise<void> {
  await run("docker-compose", ["--file", join(REPO, "docker-compose.yml"), ...args], { cwd: REPO, timeout: 300_000 });
}

async function ready(url: string): Promise<boolean> {
  // A timer that holds the event loop open: while a container starts,
  // docker-proxy takes the connection and then holds it with nothing
  // answering, and fetch holds no handle of its own meanwhile (the timer
  // behind AbortSignal.timeout does not hold it either), so the test
  // process would end with this wait unfinished.
  const abort = new AbortController();
  const deadline = setTimeout(() => abort.abort(), 1_000);
  try {
    return (await fetch(`${url}/readyz`, { signal: abort.signal })).status === 200;
  } finally {
    clearTimeout(deadline);
  }
}

async function allMembersReady(): Promise<boolean> {
  for (const port of MEMBER_PORTS) if (!(await ready(`http://127.0.0.1:${port}`))) return false;
  return true;
}

async function holdsVirtualIp(container: string): Promise<boolean> {
  return (await docker("exec", container, "ip", "-4", "-o", "addr", "show", "dev", "eth0")).includes("10.79.0.100/");
}

interface Outcome {
  readonly key: string;
  readonly startedAt: number;
  readonly ok: boolean;
}

async function writerOutcomes(): Promise<Outcome[]> {
  const lines = (await docker("logs", WRITER)).split("\n").filter((line) => line.startsWith("{"));
  return lines.map((line) => JSON.parse(line) as Outcome);
}

async function acknowledgedSince(since: number): Promise<number> {
  return (await writerOutcomes()).filter((outcome) => outcome.ok && outcome.startedAt >= since).length;
}

/** The keys under vip/ as one member holds them, read linearizably through `url`. */
async function storedKeys(url: string): Promise<Set<string>> {
  const range = await postJson(url, "/v3/kv/range", { key: b64("vip/"), range_end: b64("vip0"), keys_only: true });
  return new Set(((range.kvs as { key: string }[] | undefined) ?? []).map((kv) => unb64(kv.key)));
}

async function assertNothingAcknowledgedLost(url: string): Promise<void> {
  const acknowledged = (await writerOutcomes()).filter((outcome) => outcome.ok).map((outcome) => outcome.key);
  const stored = await storedKeys(url);
  assert.deepEqual(
    acknowledged.filter((key) => !stored.has(key)),
    [],
    "acknowledged writes missing",
  );
}

describe("the compose cluster in containers", { skip }, () => {
  before(async () => {
    await docker("rm", "--force", WRITER).catch(() => undefined);
    await compose("down", "--volumes");
    await compose("up", "--detach");
    await waitFor("every member to be ready", allMembersReady, 60_000);
    await waitFor(
      "one balancer to hold the virtual IP",
      async () => (await Promise.all(BALANCERS.map((lb) => holdsVirtualIp(lb.container)))).includes(true),
      30_000,
    );
    await docker(
      "run",
      "--detach",
      "--name",
      WRITER,
      "--network",
      NETWORK,
      "--volume",
      `${WRITER_SCRIPT}:/vip-writer.js:ro`,
      "--entrypoint",
      "node",
      "raftkv:local",
      "/vip-writer.js",
      VIRTUAL_IP_URL,
    );
    await waitFor("the writer's first acknowledged writes", async () => (await acknowledgedSince(0)) >= 20, 30_000);
  });

  after(async () => {
    await docker("rm", "--force", WRITER).catch(() => undefined);
    await compose("down", "--volumes");
  });

  test("clients on the virtual IP carry on when the active load balancer is killed", async () => {
    const states = await Promise.all(BALANCERS.map(async (lb) => ({ ...lb, active: await holdsVirtualIp(lb.container) })));
    const active = states.find((lb) => lb.active)!;
    const standby = states.find((lb) => !lb.active)!;
    const killedAt = Date.now();
    await docker("kill", active.container);
    await waitFor("the standby balancer to take the virtual IP", () => holdsVirtualIp(standby.container), 15_000);
    await waitFor("writes through the virtual IP to go on", async () => (await acknowledgedSince(killedAt)) >= 20, 30_000);
    await assertNothingAcknowledgedLost(standby.url);
    await docker("start", active.container);
    await waitFor("the killed balancer to serve again", () => ready(active.url), 30_000);
    assert.equal(await holdsVirtualIp(standby.container), true, "a balancer that comes back does not take the address back");
    // And it stands by for real: killed in turn, the other one hands the address back.
    const secondKillAt = Date.now();
    await docker("kill", standby.container);
    await waitFor("the restarted balancer to take the virtual IP", () => holdsVirtualIp(active.container), 15_000);
    await waitFor("writes through the virtual IP to go on again", async () => (await acknowledgedSince(secondKillAt)) >= 20, 30_000);
    await docker("start", standby.container);
    await waitFor("both balancers to serve", async () => (await ready(active.url)) && (await ready(standby.url)), 30_000);
  });

  test("a member killed mid-write loses nothing acknowledged, and the data outlives docker-compose restart", async () => {
    const killedAt = Date.now();
    await docker("kill", "--signal", "KILL", "raftkv-n1");
    await waitFor("writes to go on without n1", async () => (await acknowledgedSince(killedAt)) >= 20, 30_000);
    await docker("start", "raftkv-n1");
    await waitFor("n1 to be ready again", () => ready("http://127.0.0.1:23791"), 60_000);
    await docker("stop", WRITER);
    for (const port of MEMBER_PORTS) await assertNothingAcknowledgedLost(`http://127.0.0.1:${port}`);

    const before = await storedKeys("http://127.0.0.1:23791");
    await compose("restart");
    await waitFor("every member to be ready after the restart", allMembersReady, 60_000);
    for (const port of MEMBER_PORTS) assert.deepEqual(await storedKeys(`http://127.0.0.1:${port}`), before, `member on ${port} kept its data`);
  });
});

describe("the fault-injection harness on the compose cluster", { skip }, () => {
  test("a register workload through the virtual IP under kills, partitions and balancer kills finds no anomaly", async () => {
    const out = await mkdtemp(join(tmpdir(), "raftkv-docker-jepsen-"));
    const harness = ["--driver", "docker", "--through-virtual-ip", "--workload", "register", "--nemesis", "kill,partition,balancer"];
    const { stdout } = await run(process.execPath, [HARNESS, ...harness, "--time", "30", "--fault-interval", "3", "--seed", HARNESS_SEED, "--out", out], {
      cwd: REPO,
      timeout: 600_000,
    });
    assert.match(stdout, /^VALID: \d+ operations checked, 0 anomalies$/m);
    const history = await readFile(join(out, "history.jsonl"), "utf8");
    for (const fault of ["kill a random node|kill the leader", "partition", "kill the active load balancer"]) {
      assert.match(history, new RegExp(fault), `the schedule had a ${fault} fault`);
    }
  });
});
