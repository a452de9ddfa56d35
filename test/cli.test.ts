/**
 * The client commands of `raftkv` against a real 3-node cluster, each run
 * as the real command in its own process: kv round trips in every output
 * format, txn from standard input, watch, leases, lock with its fencing
 * token, election, membership changes, endpoint checks, leader transfer, the
 * perf check, and the error when no member answers. Tests run in order on
 * one cluster; the membership test leaves it with its three founders.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { ProcessCluster, b64, freePort, postJson, waitFor } from "./support/process-cluster.js";
import { RaftkvProcess, raftkv, type RaftkvOptions, type RaftkvResult } from "./support/raftkv-cli.js";

let cluster: ProcessCluster;
/** Every command finds the cluster through RAFTKV_ENDPOINTS, as a user's shell would. */
let withEndpoints: RaftkvOptions;

before(async () => {
  cluster = await ProcessCluster.start({ size: 3 });
  withEndpoints = { env: { RAFTKV_ENDPOINTS: cluster.members.map((member) => member.clientUrl).join(",") } };
});
after(async () => cluster?.stop());

/** Runs `raftkv …` against the cluster and insists it succeeded. */
async function ok(args: readonly string[], input?: string): Promise<string> {
  const result = await raftkv(args, { ...withEndpoints, input });
  assert.equal(result.code, 0, `raftkv ${args.join(" ")} failed:\n${result.stderr}${result.stdout}`);
  return result.stdout;
}

async function json<T>(args: readonly string[], input?: string): Promise<T> {
  return JSON.parse(await ok([...args, "-w", "json"], input)) as T;
}

const text = (base64: string): string => Buffer.from(base64, "base64").toString();

/**
 * How many keys start with `prefix`, asked over HTTP: waits poll with this
 * rather than spawn a command each time (what is under test is the command
 * being waited for, not the poll).
 */
async function keysUnder(prefix: string): Promise<number> {
  const end = Buffer.from(prefix);
  end[end.length - 1]! += 1;
  const range = await postJson(cluster.running()[0]!.clientUrl, "/v3/kv/range", { key: b64(prefix), range_end: end.toString("base64"), count_only: true });
  return Number(range.count ?? 0);
}

interface KeyValueJson {
  key: string;
  value: string;
  version: number;
  mod_revision: number;
  lease: number;
}

interface RangeJson {
  header: { revision: number };
  kvs: KeyValueJson[];
  count: number;
}

/** Lines of a table's body, without borders: the cells of each row, trimmed. */
function tableRows(output: string): string[][] {
  const lines = output.trimEnd().split("\n");
  return lines.slice(3, -1).map((line) =>
    line
      .split("|")
      .slice(1, -1)
      .map((cell) => cell.trim()),
  );
}

test("put, get and del round trip in table, simple and json output", async () => {
  assert.equal(await ok(["put", "app/greeting", "hello"]), "OK\n");
  assert.equal(await ok(["put", "app/note", "-w", "simple"], "two\nlines\n"), "OK\n");

  const table = await ok(["get", "app/greeting"]);
  assert.match(table.split("\n")[1] ?? "", /\|\s+KEY\s+\|\s+VALUE\s+\|\s+VERSION\s+\|/);
  assert.deepEqual(tableRows(table)[0]?.slice(0, 3), ["app/greeting", "hello", "1"]);

  assert.equal(await ok(["get", "app/", "--prefix", "-w", "simple"]), "app/greeting\nhello\napp/note\ntwo\nlines\n\n");
  assert.equal(await ok(["get", "app/note", "--print-value-only"]), "two\nlines\n\n", "a value from standard input is kept byte for byte");

  const range = await json<RangeJson>(["get", "app/", "--prefix"]);
  assert.equal(range.count, 2);
  assert.deepEqual(
    range.kvs.map((kv) => [text(kv.key), text(kv.value)]),
    [
      ["app/greeting", "hello"],
      ["app/note", "two\nlines\n"],
    ],
  );
  assert.equal(await ok(["get", "app/", "--prefix", "--count-only"]), "2\n");

  assert.equal(await ok(["del", "app/", "--prefix", "--prev-kv", "-w", "simple"]), "2\napp/greeting\nhello\napp/note\ntwo\nlines\n\n");
  assert.equal((await json<RangeJson>(["get", "app/", "--prefix"])).kvs.length, 0);
});

test("txn reads its JSON from standard input, and names the place of a mistake", async () => {
  const swap = JSON.stringify({
    compare: [{ key: "config/version", target: "VERSION", result: "=", version: 0 }],
    success: [{ put: { key: "config/version", value: "1" } }, { get: { key: "config/version" } }],
    failure: [{ get: { key: "config/version" } }],
  });
  assert.equal(await ok(["txn"], swap), "SUCCESS\n\nOK\nconfig/version\n1\n");
  const again = await json<{ succeeded: boolean; responses: { response_range?: RangeJson }[] }>(["txn"], swap);
  assert.equal(again.succeeded, false, "the key exists now, so the compare fails");
  assert.equal(text(again.responses[0]?.response_range?.kvs[0]?.value ?? ""), "1");

  const mistaken = await raftkv(["txn"], { ...withEndpoints, input: '{"compare":[{"key":"k","target":"VALUE","result":"=","vaule":"x"}]}' });
  assert.equal(mistaken.code, 2);
  assert.match(mistaken.stderr, /^error: standard input: compare\[0\]\.value: .*compare\[0\]: Unrecognized key: "vaule"/);
});

test("watch prints events as they come, from a past revision on, and exits 0 on SIGINT", async () => {
  const first = await json<{ header: { revision: number } }>(["put", "watched/a", "1"]);
  const watch = new RaftkvProcess(["watch", "watched/", "--prefix", "--rev", String(first.header.revision), "-w", "json"], withEndpoints);
  await watch.printed(/^\{.*\}\n/);
  await ok(["put", "watched/b", "2"]);
  await ok(["del", "watched/a"]);
  await watch.printed(/"DELETE"/);
  watch.signal("SIGINT");
  const { code, stdout } = await watch.finished();
  assert.equal(code, 0);
  const events = stdout
    .trimEnd()
    .split("\n")
    .map((line) => JSON.parse(line) as { type: string; kv: KeyValueJson });
  assert.deepEqual(
    events.map((event) => [event.type, text(event.kv.key), text(event.kv.value)]),
    [
      ["PUT", "watched/a", "1"],
      ["PUT", "watched/b", "2"],
      ["DELETE", "watched/a", ""],
    ],
  );
});

test("watch goes on from another member when the one serving it is killed, missing and repeating nothing", async () => {
  const start = await json<{ header: { revision: number } }>(["put", "failover/a", "1"]);
  // The client asks the first endpoint while it answers: n1 serves the watch.
  const served = cluster.members[0]!;
  const watch = new RaftkvProcess(["watch", "failover/", "--prefix", "--rev", String(start.header.revision), "-w", "simple"], withEndpoints);
  await watch.printed(/^PUT\nfailover\/a\n1\n/);
  await cluster.kill(served.name);
  await ok(["put", "failover/b", "2"]);
  await ok(["put", "failover/c", "3"]);
  await watch.printed(/failover\/c\n3\n/);
  watch.signal("SIGINT");
  const { code, stdout } = await watch.finished();
  assert.equal(code, 0);
  assert.equal(stdout, "PUT\nfailover/a\n1\nPUT\nfailover/b\n2\nPUT\nfailover/c\n3\n");

  cluster.restart(served.name);
  await waitFor(`${served.name} serving again`, async () => (await postJson(served.clientUrl, "/v3/maintenance/status", {})).leader !== undefined, 30_000);
});

test("watch from a compacted revision ends with the compacted error and exit code 1", async () => {
  const put = await json<{ header: { revision: number } }>(["put", "watched/c", "3"]);
  assert.equal(await ok(["compaction", String(put.header.revision)]), `compacted revision ${put.header.revision}\n`);
  const { code, stderr } = await new RaftkvProcess(["watch", "watched/", "--prefix", "--rev", "1"], withEndpoints).finished();
  assert.equal(code, 1);
  assert.match(stderr, /^error: compacted: re-list/);
});

test("lease grant, list, timetolive and revoke, with a key bound to the lease", async () => {
  const [, id] = (await ok(["lease", "grant", "60"])).match(/^lease ([0-9a-f]+) granted with TTL\(60s\)\n$/) ?? [];
  assert.ok(id, "grant prints the lease id in hex");
  await ok(["put", "leased/key", "v", "--lease", id]);
  const leases = await json<{ leases: { ID: number }[] }>(["lease", "list"]);
  assert.ok(leases.leases.some((lease) => lease.ID === Number.parseInt(id, 16)));
  assert.match(
    await ok(["lease", "timetolive", id, "--keys"]),
    new RegExp(`^lease ${id} granted with TTL\\(60s\\), remaining\\(\\d+s\\), attached keys\\(\\[leased/key\\]\\)`),
  );
  assert.equal(await ok(["lease", "revoke", id]), `lease ${id} revoked\n`);
  assert.equal(await ok(["get", "leased/key", "--count-only"]), "0\n", "revoking the lease deleted its key");
  assert.match(await ok(["lease", "timetolive", id]), /already expired/);
});

test("lease keep-alive prints each renewal until SIGINT, and exits 1 on a lease that is gone", async () => {
  const [, id] = (await ok(["lease", "grant", "3"])).match(/^lease ([0-9a-f]+) granted/) ?? [];
  assert.ok(id);
  const keepAlive = new RaftkvProcess(["lease", "keep-alive", id], withEndpoints);
  // The first line is the renewal made at start; the second comes from the loop, a third of the TTL later.
  await keepAlive.printed(new RegExp(`^(lease ${id} keepalived with TTL\\(3\\)\\n){2}`));
  keepAlive.signal("SIGINT");
  assert.equal((await keepAlive.finished()).code, 0);

  await ok(["lease", "revoke", id]);
  const gone = await raftkv(["lease", "keep-alive", id], withEndpoints);
  assert.equal(gone.code, 1);
  assert.equal(gone.stdout, `lease ${id} expired or revoked\n`);
});

test("lock runs a command that sees its fencing token, after the holder before it lets go", async () => {
  const holder = new RaftkvProcess(["lock", "jobs/report", "-w", "json"], withEndpoints);
  const held = JSON.parse((await holder.printed(/^\{.*\}\n/))[0]) as { fencing_token: number };

  const printToken = "console.log('token', process.env.RAFTKV_LOCK_TOKEN)";
  const next = new RaftkvProcess(["lock", "jobs/report", "--", process.execPath, "-e", printToken], withEndpoints);
  await waitFor("the second contender to queue", async () => (await keysUnder("jobs/report/")) === 2);
  assert.equal(next.stdout, "", "the command must not run while another holds the lock");

  holder.signal("SIGINT");
  assert.equal((await holder.finished()).code, 0);
  const ran = await next.finished();
  assert.equal(ran.code, 0, ran.stderr);
  const token = Number(ran.stdout.match(/^token (\d+)$/m)?.[1]);
  assert.ok(token > held.fencing_token, `the next holder's token ${token} is above ${held.fencing_token}`);
  assert.equal(await ok(["get", "jobs/report/", "--prefix", "--count-only"]), "0\n", "both released the lock");

  const failing = await raftkv(["lock", "jobs/report", "--", process.execPath, "-e", "process.exit(3)"], withEndpoints);
  assert.equal(failing.code, 3, "raftkv exits with the command's exit code");
});

test("elect campaigns and leads; --listen shows the leader's proposal", async () => {
  const candidate = new RaftkvProcess(["elect", "scheduler", "host-a", "-w", "simple"], withEndpoints);
  await candidate.printed(/^scheduler\/[0-9a-f]+\nhost-a\n/);
  const listener = new RaftkvProcess(["elect", "scheduler", "--listen", "-w", "simple"], withEndpoints);
  await listener.printed(/^scheduler\/[0-9a-f]+\nhost-a\n/);
  candidate.signal("SIGINT");
  assert.equal((await candidate.finished()).code, 0);
  listener.signal("SIGINT");
  assert.equal((await listener.finished()).code, 0);
  assert.equal(await ok(["get", "scheduler/", "--prefix", "--count-only"]), "0\n", "the leader resigned");
});

interface StatusJson {
  Endpoint: string;
  Status: { header: { member_id: number; revision: number }; leader: number; isLearner: boolean };
}

test("endpoint status, health and hashkv reach every member with --cluster", async () => {
  const onlyFirst = ["--endpoints", cluster.members[0]!.clientUrl];
  const statuses = await json<StatusJson[]>(["endpoint", "status", "--cluster", ...onlyFirst]);
  assert.deepEqual(statuses.map((status) => status.Endpoint).sort(), cluster.members.map((member) => member.clientUrl).sort());
  assert.equal(statuses.filter((status) => status.Status.leader === status.Status.header.member_id).length, 1, "exactly one leader");

  const table = tableRows(await ok(["endpoint", "status", "--cluster", ...onlyFirst]));
  assert.equal(table.length, 3);
  assert.equal(table.filter((row) => row[4] === "true").length, 1, "the IS LEADER column marks one member");

  const health = await ok(["endpoint", "health", "--cluster", "-w", "simple", ...onlyFirst]);
  assert.equal(health.match(/ is healthy: took = \d+ms$/gm)?.length, 3, health);

  // Hashes agree at a revision every member has applied.
  const revision = Math.min(...statuses.map((status) => status.Status.header.revision));
  const hashes = await json<{ HashKV: { hash: number } }[]>(["endpoint", "hashkv", "--cluster", "--rev", String(revision), ...onlyFirst]);
  assert.equal(hashes.length, 3);
  assert.equal(new Set(hashes.map((each) => each.HashKV.hash)).size, 1, "every member has the same data");
});

interface MemberListJson {
  members: { ID: number; name: string; isLearner: boolean }[];
}

test("member list, add as learner, promote, update and remove, by hex id and by name", async () => {
  const founders = tableRows(await ok(["member", "list"]));
  assert.deepEqual(founders.map((row) => row[2]).sort(), ["n1", "n2", "n3"]);
  for (const [id, status, , , , learner] of founders) {
    assert.match(id ?? "", /^[0-9a-f]+$/, "ids print in hex");
    assert.deepEqual([status, learner], ["started", "false"]);
  }

  const joining = await cluster.join("n4");
  const added = await ok(["member", "add", "n4", "--peer-urls", joining.peerUrl, "--learner"]);
  const id = added.match(/^Member ([0-9a-f]+) added to cluster [0-9a-f]+$/m)?.[1] ?? "";
  assert.ok(id, added);
  assert.match(added, new RegExp(`^RAFTKV_INITIAL_CLUSTER=".*n4=${joining.peerUrl}.*"$`, "m"));
  assert.match(added, /^RAFTKV_INITIAL_CLUSTER_STATE="existing"$/m);
  cluster.startJoined(joining);

  // The cluster refuses to promote a learner that has not caught up; once it has, promote succeeds.
  let refusal = "";
  await waitFor(
    "n4 promoted",
    async () => {
      const promote = await raftkv(["member", "promote", id], withEndpoints);
      refusal = promote.stderr;
      return promote.code === 0;
    },
    30_000,
  ).catch((error: unknown) => {
    throw new Error(`${String(error)}; last refusal: ${refusal}\n${cluster.logs()}`);
  });
  const four = await json<MemberListJson>(["member", "list"]);
  assert.equal(four.members.length, 4);
  assert.ok(
    four.members.every((member) => !member.isLearner),
    "n4 votes now",
  );

  // By name, once n4 has started and published it.
  await waitFor("n4 to publish its name", async () => {
    const list = await postJson(cluster.running()[0]!.clientUrl, "/v3/cluster/member/list", {});
    return (list.members as { name?: string }[]).some((member) => member.name === "n4");
  });
  assert.match(await ok(["member", "update", "n4", "--peer-urls", joining.peerUrl]), new RegExp(`^Member ${id} updated in cluster [0-9a-f]+\\n$`));
  assert.match(await ok(["member", "remove", "n4"]), new RegExp(`^Member ${id} removed from cluster [0-9a-f]+\n$`));
  await cluster.kill("n4");
  cluster.forget("n4");
  assert.deepEqual((await json<MemberListJson>(["member", "list"])).members.map((member) => member.name).sort(), ["n1", "n2", "n3"]);
});

test("move-leader hands leadership to the member named", async () => {
  const leader = await cluster.waitForLeader();
  const target = cluster.members.find((member) => member !== leader)!;
  assert.match(await ok(["move-leader", target.name]), /^Leadership transferred from [0-9a-f]+ to [0-9a-f]+\n$/);
  await waitFor(`${target.name} to lead`, async () => (await cluster.waitForLeader()) === target);
});

test("check perf runs a short load, reports latency percentiles and a verdict, and removes its keys", async () => {
  const { code, stdout, stderr } = await raftkv(["check", "perf", "--duration", "1s", "--prefix", "perf-check/", "-w", "simple"], withEndpoints);
  const lines = stdout.trimEnd().split("\n");
  // Whether a 2-core CI machine keeps up with 150 writes/s is not this test's business; an honest verdict is.
  assert.equal(lines.at(-1), code === 0 ? "PASS" : "FAIL", stdout + stderr);
  const writes = Number(lines[0]?.match(/^(\d+) writes in \d+\.\ds \(\d+ failed\)$/)?.[1]);
  assert.ok(writes > 0 && writes <= 150, `1 s at 150 writes/s: ${lines[0]}`);
  assert.match(lines[1] ?? "", /^Latency: p50 [\d.]+s, p90 [\d.]+s, p99 [\d.]+s, p99\.9 [\d.]+s, mean [\d.]+s$/);
  assert.match(lines[2] ?? "", /^(PASS: Throughput is|FAIL: Throughput too low:) \d+ writes\/s$/);
  assert.match(lines[3] ?? "", /^(PASS|FAIL): Slowest request took/);
  assert.match(lines[4] ?? "", /^(PASS|FAIL): Stddev/);
  assert.equal(await ok(["get", "perf-check/", "--prefix", "--count-only"]), "0\n");
});

test("when no member answers, one line names each endpoint and why, and the exit code is 1", async () => {
  const ports = [await freePort(), await freePort()];
  const endpoints = ports.map((port) => `http://127.0.0.1:${port}`);
  const { code, stderr }: RaftkvResult = await raftkv(["get", "k", "--endpoints", endpoints.join(","), "--command-timeout", "1s"]);
  assert.equal(code, 1);
  assert.match(stderr, new RegExp(`^error: no member answered: ${endpoints[0]}: .*ECONNREFUSED.*, ${endpoints[1]}: .*ECONNREFUSED.*\n$`));
});
