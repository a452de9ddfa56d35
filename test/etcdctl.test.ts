/**
 * etcdctl 3.4 (Debian's etcd-client), unchanged, against a real cluster
 * over etcd's gRPC API on the members' client ports: its daily commands,
 * asserted on etcdctl's own output.
 */
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { mkdtemp, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, test } from "node:test";
import { promisify } from "node:util";
import { ProcessCluster, RAFTKV_BIN, waitFor } from "./support/process-cluster.js";

const run = promisify(execFile);
const ETCDCTL = "/usr/bin/etcdctl";
const ENV = { ...process.env, ETCDCTL_API: "3" };

let cluster: ProcessCluster;
let endpoints: string;

before(async () => {
  cluster = await ProcessCluster.start({ size: 3 });
  endpoints = cluster.members.map((member) => member.clientUrl).join(",");
});
after(async () => cluster?.stop());

/** Runs etcdctl against every member, with stdin when given; rejects when it exits non-zero. */
async function etcdctl(args: readonly string[], input?: string): Promise<string> {
  const child = run(ETCDCTL, [`--endpoints=${endpoints}`, ...args], { env: ENV, timeout: 30_000 });
  if (input !== undefined) child.child.stdin?.end(input);
  return (await child).stdout;
}

/** etcdctl's error output for a command expected to fail. */
async function etcdctlError(args: readonly string[]): Promise<string> {
  try {
    await etcdctl(args);
  } catch (error) {
    return (error as { stderr: string }).stderr;
  }
  throw new Error(`etcdctl ${args.join(" ")} succeeded`);
}

/** Starts a long-running etcdctl (watch, elect) and waits until its output matches, then stops it. */
async function outputOf(args: readonly string[], expected: RegExp): Promise<string> {
  const child = spawn(ETCDCTL, [`--endpoints=${endpoints}`, ...args], { env: ENV, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
  try {
    return await waitFor(`etcdctl ${args.join(" ")} to print ${expected}`, async () => expected.test(output) && output);
  } finally {
    child.kill();
  }
}

async function revisionOf(key: string, value: string): Promise<number> {
  return (JSON.parse(await etcdctl(["put", key, value, "-w", "json"])) as { header: { revision: number } }).header.revision;
}

test("put and get, with etcdctl's options", async () => {
  assert.equal(await etcdctl(["put", "fruit/apple", "red"]), "OK\n");
  await etcdctl(["put", "fruit/banana", "yellow"]);
  await etcdctl(["put", "fruit/cherry", "dark red"]);
  assert.equal(await etcdctl(["get", "fruit/apple"]), "fruit/apple\nred\n");
  assert.equal(await etcdctl(["get", "fruit/", "--prefix"]), "fruit/apple\nred\nfruit/banana\nyellow\nfruit/cherry\ndark red\n");
  assert.equal(await etcdctl(["get", "fruit/", "--prefix", "--keys-only"]), "fruit/apple\n\nfruit/banana\n\nfruit/cherry\n\n");
  assert.equal(await etcdctl(["get", "fruit/banana", "--print-value-only"]), "yellow\n");
  assert.equal(await etcdctl(["get", "fruit/", "--prefix", "--limit=1", "--sort-by=VALUE", "--order=DESCEND"]), "fruit/banana\nyellow\n");
  assert.equal(await etcdctl(["get", "fruit/banana", "--from-key", "--keys-only"]).then((out) => out.split("\n")[2]), "fruit/cherry");
  assert.equal(await etcdctl(["get", "missing"]), "");

  const first = await revisionOf("versioned", "one");
  await etcdctl(["put", "versioned", "two"]);
  assert.equal(await etcdctl(["get", "versioned", `--rev=${first}`, "--print-value-only"]), "one\n");
  const json = JSON.parse(await etcdctl(["get", "versioned", "-w", "json"])) as {
    header: { member_id: number; raft_term: number };
    kvs: { key: string; value: string; version: number }[];
    count: number;
  };
  assert.deepEqual([Buffer.from(json.kvs[0]!.key, "base64").toString(), Buffer.from(json.kvs[0]!.value, "base64").toString()], ["versioned", "two"]);
  assert.equal(json.kvs[0]!.version, 2);
  assert.equal(json.count, 1);
  assert.ok(json.header.member_id > 0 && json.header.raft_term > 0, "the header names the member and the term");
  assert.match(await etcdctlError(["put", "nokey", "--ignore-value"]), /etcdserver: key not found/);
});

test("del with prefix and prev-kv", async () => {
  await etcdctl(["put", "gone/a", "1"]);
  await etcdctl(["put", "gone/b", "2"]);
  await etcdctl(["put", "gone/c", "3"]);
  assert.equal(await etcdctl(["del", "gone/a", "--prev-kv"]), "1\ngone/a\n1\n");
  assert.equal(await etcdctl(["del", "gone/", "--prefix"]), "2\n");
  assert.equal(await etcdctl(["get", "gone/", "--prefix"]), "");
});

test("txn from stdin takes the branch its compare decides", async () => {
  await etcdctl(["put", "flag", "on"]);
  const txn = (expected: string) => `value("flag") = "${expected}"\n\nput result then\n\nput result else\n\n`;
  assert.equal(await etcdctl(["txn"], txn("on")), "SUCCESS\n\nOK\n");
  assert.equal(await etcdctl(["get", "result", "--print-value-only"]), "then\n");
  assert.equal(await etcdctl(["txn"], txn("off")), "FAILURE\n\nOK\n");
  assert.equal(await etcdctl(["get", "result", "--print-value-only"]), "else\n");
});

test("watch replays from a revision, with prev-kv, and a compacted start cancels it", async () => {
  const from = await revisionOf("watched/x", "1");
  await etcdctl(["put", "watched/x", "2"]);
  await etcdctl(["del", "watched/x"]);
  const output = await outputOf(["watch", "watched/", "--prefix", "--prev-kv", `--rev=${from}`], /DELETE/);
  assert.equal(output, "PUT\nwatched/x\n1\nPUT\nwatched/x\n1\nwatched/x\n2\nDELETE\nwatched/x\n2\nwatched/x\n\n");

  const compacted = await revisionOf("compact/me", "x");
  assert.equal(await etcdctl(["compaction", String(compacted)]), `compacted revision ${compacted}\n`);
  assert.match(await etcdctlError(["get", "compact/me", `--rev=${compacted - 1}`]), /etcdserver: mvcc: required revision has been compacted/);
  assert.match(await etcdctlError(["watch", "compact/", "--prefix", `--rev=${compacted - 1}`]), /watch is canceled by the server/);
});

test("leases: grant, attach, time to live, list, keep-alive, revoke", async () => {
  const granted = await etcdctl(["lease", "grant", "60"]);
  const id = /^lease ([0-9a-f]+) granted with TTL\(60s\)\n$/.exec(granted)?.[1];
  assert.ok(id, granted);
  assert.equal(await etcdctl(["put", "leased", "v", `--lease=${id}`]), "OK\n");
  assert.match(
    await etcdctl(["lease", "timetolive", id, "--keys"]),
    new RegExp(`^lease ${id} granted with TTL\\(60s\\), remaining\\((59|60)s\\), attached keys\\(\\[leased\\]\\)\\n$`),
  );
  assert.match(await etcdctl(["lease", "list"]), new RegExp(`^found \\d+ leases\\n(.*\\n)*${id}\\n`));
  assert.equal(await etcdctl(["lease", "keep-alive", "--once", id]), `lease ${id} keepalived with TTL(60)\n`);
  assert.equal(await etcdctl(["lease", "revoke", id]), `lease ${id} revoked\n`);
  assert.equal(await etcdctl(["lease", "timetolive", id]), `lease ${id} already expired\n`);
  assert.equal(await etcdctl(["get", "leased"]), "");
});

test("lock runs a command while holding the lock; elect campaigns and listens", async () => {
  assert.equal(await etcdctl(["lock", "the-lock", "echo", "held"]), "held\n");
  const campaigning = outputOf(["elect", "the-election", "first"], /first\n/);
  const campaigned = await campaigning;
  assert.match(campaigned, /^the-election\/[0-9a-f]+\nfirst\n$/);
});

test("elect --listen sees the current leader's proclamation", async () => {
  const child = spawn(ETCDCTL, [`--endpoints=${endpoints}`, "elect", "listened", "chosen"], { env: ENV, stdio: "ignore" });
  try {
    assert.match(await outputOf(["elect", "--listen", "listened"], /chosen\n/), /^listened\/[0-9a-f]+\nchosen\n$/);
  } finally {
    child.kill();
  }
});

interface EndpointStatus {
  readonly Endpoint: string;
  readonly Status: { header: { member_id: number }; leader: number; version: string; raftTerm: number };
}

test("member list, endpoint status, health and hashkv across the cluster", async () => {
  const members = (await etcdctl(["member", "list"])).trim().split("\n");
  assert.deepEqual(
    members.map((line) => line.replace(/^[0-9a-f]+, /, "")).sort(),
    cluster.members.map((m) => `started, ${m.name}, ${m.peerUrl}, ${m.clientUrl}, false`),
  );
  const statuses = JSON.parse(await etcdctl(["endpoint", "status", "-w", "json"])) as EndpointStatus[];
  assert.equal(statuses.length, 3);
  assert.equal(new Set(statuses.map((s) => s.Status.leader)).size, 1, "every member names the same leader");
  assert.ok(statuses.some((s) => s.Status.header.member_id === s.Status.leader));
  // etcdctl 3.4 reports health on stderr.
  const health = (await run(ETCDCTL, [`--endpoints=${cluster.members[0]!.clientUrl}`, "endpoint", "health", "--cluster"], { env: ENV, timeout: 30_000 }))
    .stderr;
  for (const member of cluster.members) assert.match(health, new RegExp(`${member.clientUrl} is healthy: successfully committed proposal`));
  const hashes = (await etcdctl(["endpoint", "hashkv", "--cluster"]))
    .trim()
    .split("\n")
    .map((line) => line.split(", ")[1]);
  assert.equal(hashes.length, 3);
  assert.equal(new Set(hashes).size, 1, `the members' hashes agree: ${hashes.join(" ")}`);
  assert.equal(await etcdctl(["alarm", "list"]), "");
  assert.equal(await etcdctl(["defrag"]), cluster.members.map((m) => `Finished defragmenting etcd member[${m.clientUrl}]\n`).join(""));
});

test("snapshot save writes a file with etcd's SHA-256 trailer that raftkv restores from", async () => {
  await etcdctl(["put", "backed-up", "yes"]);
  const file = join(await mkdtemp(join(tmpdir(), "raftkv-etcdctl-")), "saved.db");
  // Host and port alone, as etcdctl also takes an endpoint.
  const endpoint = new URL(cluster.members[0]!.clientUrl).host;
  const saved = await run(ETCDCTL, [`--endpoints=${endpoint}`, "snapshot", "save", file], { env: ENV, timeout: 30_000 });
  assert.equal(saved.stdout, `Snapshot saved at ${file}\n`);
  assert.equal((await stat(file)).size % 512, 32);
  const status = JSON.parse((await run(process.execPath, [RAFTKV_BIN, "snapshot", "status", file, "--write-out", "json"])).stdout) as { keyCount: number };
  assert.ok(status.keyCount > 0);

  // Restored with etcdctl's own restore flags.
  const peerUrl = "http://127.0.0.1:1";
  const restoreFlags = [
    "--initial-cluster",
    `m1=${peerUrl}`,
    "--initial-cluster-token",
    "restored",
    "--initial-advertise-peer-urls",
    peerUrl,
    "--skip-hash-check",
  ];
  const dataDir = join(dirname(file), "m1");
  const restored = await run(process.execPath, [RAFTKV_BIN, "snapshot", "restore", file, "--name", "m1", "--data-dir", dataDir, ...restoreFlags]);
  assert.match(restored.stdout, new RegExp(`^Restored index \\d+ into ${dataDir} for members m1;`));
  const refused = run(process.execPath, [RAFTKV_BIN, "snapshot", "restore", file, "--name", "m2", "--data-dir", `${dataDir}-2`, ...restoreFlags]);
  await assert.rejects(refused, /couldn't find local name "m2" in the initial cluster configuration/);
});

test("move-leader hands leadership to the member named", async () => {
  const statuses = JSON.parse(await etcdctl(["endpoint", "status", "-w", "json"])) as EndpointStatus[];
  const leader = statuses[0]!.Status.leader;
  const target = statuses.find((s) => s.Status.header.member_id !== leader)!.Status.header.member_id;
  const hex = (id: number) => id.toString(16);
  assert.equal(await etcdctl(["move-leader", hex(target)]), `Leadership transferred from ${hex(leader)} to ${hex(target)}\n`);
  await waitFor("every member to follow the new leader", async () => {
    const now = JSON.parse(await etcdctl(["endpoint", "status", "-w", "json"])) as EndpointStatus[];
    return now.every((s) => s.Status.leader === target);
  });
});

test("member add, update, promote and remove, asked of a member that does not lead", async () => {
  const leader = await cluster.waitForLeader();
  const follower = cluster.members.find((member) => member !== leader)!.clientUrl;
  const onFollower = async (args: readonly string[]) => (await run(ETCDCTL, [`--endpoints=${follower}`, ...args], { env: ENV, timeout: 30_000 })).stdout;
  const added = await onFollower(["member", "add", "learner", "--peer-urls=http://127.0.0.1:1", "--learner"]);
  const [, id, clusterId] = /^Member +([0-9a-f]+) added to cluster +([0-9a-f]+)\n/.exec(added) ?? [];
  assert.ok(id && clusterId, added);
  assert.match(added, /\nETCD_NAME="learner"\n.*\nETCD_INITIAL_ADVERTISE_PEER_URLS="http:\/\/127.0.0.1:1"\nETCD_INITIAL_CLUSTER_STATE="existing"\n$/);
  assert.match(await onFollower(["member", "list"]), new RegExp(`${id}, unstarted, , http://127.0.0.1:1, , true`));
  assert.match(await onFollower(["member", "update", id, "--peer-urls=http://127.0.0.1:2"]), new RegExp(`^Member +${id} updated in cluster +${clusterId}\\n$`));
  assert.match(await etcdctlError(["member", "promote", id]), /etcdserver: can only promote a learner member which is in sync with leader/);
  assert.match(await onFollower(["member", "remove", id]), new RegExp(`^Member +${id} removed from cluster +${clusterId}\\n$`));
  assert.equal((await etcdctl(["member", "list"])).trim().split("\n").length, 3);
});
