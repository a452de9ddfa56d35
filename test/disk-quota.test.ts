/**
 * etcd's space quota on real processes: past --quota-backend-bytes NOSPACE
 * is raised through the log and every member refuses the writes that grow
 * the store with etcd's error, while reads, deletes, compaction and
 * defragmentation go on; defragmentation gives the space back on disk; a
 * disarm clears the alarm once space is back (and while still over, it is
 * raised again). The same script runs against etcd 3.4 where it is
 * installed. Our free-disk reserve is checked on a tmpfs.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readdir, stat, statfs, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { health } from "./support/cluster-ops.js";
import { HAS_ETCD, startEtcd } from "./support/etcd.js";
import { ProcessCluster, b64, waitFor, type ClusterMember } from "./support/process-cluster.js";
import { raftkv } from "./support/raftkv-cli.js";
import { CAN_MOUNT_TMPFS, mountTmpfs, unmountAll } from "./support/tmpfs.js";

const QUOTA_BYTES = 256 * 1024;
const VALUE = b64("x".repeat(16 * 1024));
const NO_SPACE = { status: 429, error: "etcdserver: mvcc: database space exceeded", code: 8 };

let cluster: ProcessCluster | undefined;

before(async () => {
  cluster = await ProcessCluster.start({ size: 3, extraFlags: [`--quota-backend-bytes=${QUOTA_BYTES}`] });
});

after(async () => {
  await cluster?.stop();
});

// biome-ignore lint/suspicious/noExplicitAny: a JSON reply, read field by field
type Json = Record<string, any>;

interface Answer {
  readonly status: number;
  readonly body: Json;
}

async function ask(url: string, path: string, body: unknown = {}): Promise<Answer> {
  const response = await fetch(`${url}${path}`, { method: "POST", body: JSON.stringify(body), signal: AbortSignal.timeout(10_000) });
  return { status: response.status, body: (await response.json()) as Json };
}

function refusal({ status, body }: Answer): { status: number; error: unknown; code: unknown } {
  return { status, error: body.error, code: body.code };
}

/** Puts 16 KiB values under q/ until the quota refuses one; returns the refusal. */
async function fillToQuota(url: string): Promise<Answer> {
  for (let i = 0; i < 1000; i++) {
    const answer = await ask(url, "/v3/kv/put", { key: b64(`q/${i}`), value: VALUE });
    if (answer.status !== 200) return answer;
  }
  throw new Error(`${url} took 1000 puts of 16 KiB under a ${QUOTA_BYTES}-byte quota`);
}

async function alarmsOn(url: string): Promise<{ memberID: string; alarm: string }[]> {
  return (await ask(url, "/v3/maintenance/alarm", { action: "GET" })).body.alarms ?? [];
}

async function kvDirBytes(member: ClusterMember): Promise<number> {
  const dir = join(member.dataDir, "kv");
  const sizes = await Promise.all((await readdir(dir)).map(async (name) => (await stat(join(dir, name))).size));
  return sizes.reduce((total, size) => total + size, 0);
}

const endpointsOf = (members: readonly ClusterMember[]) => `--endpoints=${members.map((member) => member.clientUrl).join(",")}`;

test("past the quota every member refuses growing writes, serves reads and deletes, and a disarm clears NOSPACE once space is back", {
  timeout: 120_000,
}, async () => {
  const members = cluster!.running();
  const [first] = members;
  assert.deepEqual(refusal(await fillToQuota(first!.clientUrl)), NO_SPACE);

  for (const member of members) {
    await waitFor(`${member.name} to hold the NOSPACE alarm`, async () => (await alarmsOn(member.clientUrl)).some((alarm) => alarm.alarm === "NOSPACE"));
    assert.deepEqual(refusal(await ask(member.clientUrl, "/v3/kv/put", { key: b64("small"), value: b64("v") })), NO_SPACE, member.name);
    assert.deepEqual(refusal(await ask(member.clientUrl, "/v3/kv/txn", { success: [{ request_put: { key: b64("t"), value: b64("v") } }] })), NO_SPACE);
    assert.deepEqual(refusal(await ask(member.clientUrl, "/v3/lease/grant", { TTL: 60 })), NO_SPACE);
    assert.equal((await ask(member.clientUrl, "/v3/kv/range", { key: b64("q/0") })).status, 200);
    assert.deepEqual(await health(member), { status: 503, health: "false", reason: "ALARM NOSPACE" });
    assert.equal((await fetch(`${member.clientUrl}/readyz`)).status, 200, "a member under NOSPACE still serves reads and deletes");
  }

  const listed = await raftkv([endpointsOf(members), "alarm", "list"]);
  assert.equal(listed.code, 0, listed.stderr);
  assert.match(listed.stdout, /^(memberID:\d+ alarm:NOSPACE \n)+$/);

  // Still over the quota: a disarm clears the alarms, and the members raise NOSPACE again.
  const early = await raftkv([endpointsOf(members), "alarm", "disarm"]);
  assert.equal(early.code, 0, early.stderr);
  // Each member raises its own NOSPACE when its own check finds it over, so one more may have joined since the list.
  assert.match(early.stdout, /^(memberID:\d+ alarm:NOSPACE \n)+$/, "disarm prints the alarms it cleared");
  for (const line of listed.stdout.split("\n").filter(Boolean)) assert.ok(early.stdout.includes(`${line}\n`), `disarm cleared ${line}`);
  await waitFor("NOSPACE raised again", async () => (await alarmsOn(first!.clientUrl)).length > 0);

  const deleted = await ask(first!.clientUrl, "/v3/kv/deleterange", { key: b64("q/"), range_end: b64("q0") });
  assert.equal(deleted.status, 200);
  const revision = Number(deleted.body.header.revision);
  assert.equal((await ask(first!.clientUrl, "/v3/kv/compaction", { revision })).status, 200);

  // A linearizable read on each member: past it, the member has applied the delete and the compaction.
  for (const member of members) assert.equal((await ask(member.clientUrl, "/v3/kv/range", { key: b64("q/0") })).status, 200);
  const before = await Promise.all(members.map(kvDirBytes));
  const defragged = await raftkv([endpointsOf(members), "defrag"]);
  assert.equal(defragged.code, 0, defragged.stderr);
  assert.equal(defragged.stdout, members.map((member) => `Finished defragmenting etcd member[${member.clientUrl}]\n`).join(""));
  const afterDefrag = await Promise.all(members.map(kvDirBytes));
  for (const [i, member] of members.entries()) {
    assert.ok(afterDefrag[i]! < before[i]! / 2, `${member.name}: ${before[i]} bytes before defragmenting, ${afterDefrag[i]} after`);
    assert.ok(afterDefrag[i]! < QUOTA_BYTES);
  }

  const disarmed = await raftkv([endpointsOf(members), "alarm", "disarm"]);
  assert.equal(disarmed.code, 0, disarmed.stderr);
  for (const member of members) {
    await waitFor(
      `${member.name} to take puts again`,
      async () => (await ask(member.clientUrl, "/v3/kv/put", { key: b64(`after/${member.name}`), value: b64("v") })).status === 200,
    );
  }
  assert.deepEqual(await alarmsOn(first!.clientUrl), []);
  assert.equal((await raftkv([endpointsOf(members), "alarm", "list"])).stdout, "");
});

test("the quota's answers are etcd 3.4's", { skip: !HAS_ETCD && "no etcd binary", timeout: 120_000 }, async () => {
  const etcd = await startEtcd([`--quota-backend-bytes=${QUOTA_BYTES}`]);
  const single = await ProcessCluster.start({ size: 1, extraFlags: [`--quota-backend-bytes=${QUOTA_BYTES}`] });
  try {
    const [ours, theirs] = await Promise.all([quotaScript(single.members[0]!.clientUrl), quotaScript(etcd.clientUrl)]);
    assert.deepEqual(ours, theirs);
  } finally {
    await single.stop();
    await etcd.stop();
  }
});

/** What a client sees of the quota, step by step: statuses and errors, and which alarms are listed. */
async function quotaScript(url: string): Promise<Record<string, unknown>> {
  const seen: Record<string, unknown> = {};
  seen.fill = refusal(await fillToQuota(url));
  const alarms = await waitFor("NOSPACE", async () => {
    const listed = await alarmsOn(url);
    return listed.length > 0 && listed;
  });
  seen.alarms = alarms.map((alarm) => alarm.alarm);
  const healthAnswer = await health({ clientUrl: url } as ClusterMember);
  // raftkv adds a reason, as etcd 3.5 does.
  seen.health = { status: healthAnswer.status, health: healthAnswer.health };
  seen.put = refusal(await ask(url, "/v3/kv/put", { key: b64("small"), value: b64("v") }));
  seen.txnPut = refusal(await ask(url, "/v3/kv/txn", { success: [{ request_put: { key: b64("t"), value: b64("v") } }] }));
  seen.leaseGrant = refusal(await ask(url, "/v3/lease/grant", { TTL: 60 }));
  seen.range = (await ask(url, "/v3/kv/range", { key: b64("q/0") })).status;
  const deleted = await ask(url, "/v3/kv/deleterange", { key: b64("q/"), range_end: b64("q0") });
  seen.delete = deleted.status;
  seen.compaction = (await ask(url, "/v3/kv/compaction", { revision: deleted.body.header.revision })).status;
  seen.defragment = (await ask(url, "/v3/maintenance/defragment")).status;
  const disarmed = await ask(url, "/v3/maintenance/alarm", { action: "DEACTIVATE", memberID: alarms[0]!.memberID, alarm: "NOSPACE" });
  seen.disarm = { status: disarmed.status, alarms: (disarmed.body.alarms as { alarm: string }[]).map((alarm) => alarm.alarm) };
  seen.putAfterDisarm = (await ask(url, "/v3/kv/put", { key: b64("small"), value: b64("v") })).status;
  return seen;
}

test("a member raises NOSPACE once its filesystem has less free space than --wal-reserve-bytes, and keeps serving", {
  skip: !CAN_MOUNT_TMPFS && "needs root to mount tmpfs filesystems",
  timeout: 120_000,
}, async () => {
  const reserve = 8 * 1024 * 1024;
  const small = await ProcessCluster.start({
    size: 1,
    extraFlags: [`--wal-reserve-bytes=${reserve}`],
    prepare: async (members) => mountTmpfs(members[0]!.dataDir, 24),
  });
  try {
    const member = small.members[0]!;
    assert.deepEqual(await alarmsOn(member.clientUrl), []);
    const filler = join(member.dataDir, "filler");
    const free = await statfs(member.dataDir);
    // Leave 4 MiB: below the reserve, yet room for the alarm's own entry and for deletes.
    await writeFile(filler, Buffer.alloc(free.bavail * free.bsize - 4 * 1024 * 1024));
    await waitFor("NOSPACE raised", async () => (await alarmsOn(member.clientUrl)).length > 0);
    assert.deepEqual(refusal(await ask(member.clientUrl, "/v3/kv/put", { key: b64("k"), value: b64("v") })), NO_SPACE);
    assert.equal((await ask(member.clientUrl, "/v3/kv/deleterange", { key: b64("k") })).status, 200);
    assert.deepEqual(await health(member), { status: 503, health: "false", reason: "ALARM NOSPACE" });

    spawnSync("rm", ["-f", filler]);
    const disarmed = await raftkv([`--endpoints=${member.clientUrl}`, "alarm", "disarm"]);
    assert.equal(disarmed.code, 0, disarmed.stderr);
    let lastPut: unknown;
    await waitFor("puts taken again", async () => {
      const answer = await ask(member.clientUrl, "/v3/kv/put", { key: b64("k"), value: b64("v") }).catch((error: unknown) => String(error));
      lastPut = answer;
      return typeof answer === "object" && answer.status === 200;
    }).catch(async (error: unknown) => {
      const freeBytes = await statfs(member.dataDir).then((stats) => stats.bavail * stats.bsize, String);
      const alarms = await alarmsOn(member.clientUrl).catch(String);
      throw new Error(`${String(error)}; last put: ${JSON.stringify(lastPut)}; alarms: ${JSON.stringify(alarms)}; free bytes: ${freeBytes}`);
    });
  } finally {
    for (const member of small.running()) await small.kill(member.name);
    await unmountAll();
    await small.stop();
  }
});
