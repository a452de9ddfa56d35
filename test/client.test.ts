/**
 * @raftkv/client against a real 3-member cluster: the API end to end, then
 * SIGKILL of the very member the client talks to in the middle of a watch,
 * a lock hold and a write burst. Watches must resume with no event missed or
 * repeated, the lock must stay held (and its lease's loss be signalled when
 * it really happens), and no write may be lost or applied twice.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { after, before, describe, test } from "node:test";
import {
  Client,
  CompactedError,
  Election,
  EtcdError,
  GrpcCode,
  LeaseLostError,
  Lock,
  NoEndpointAvailableError,
  NotLeaderError,
  type WatchEvent,
} from "@raftkv/client";
import { ProcessCluster, freePort, waitFor, type ClusterMember } from "./support/process-cluster.js";

describe("@raftkv/client on a 3-member cluster", () => {
  let cluster: ProcessCluster;
  let client: Client;

  before(async () => {
    cluster = await ProcessCluster.start({ size: 3 });
    client = new Client({ endpoints: cluster.members.map((member) => member.clientUrl) });
  });
  after(async () => {
    await client?.close();
    await cluster?.stop();
  });

  /** A client whose preferred member is `member`, with the others to fail over to. */
  function clientPreferring(member: ClusterMember): Client {
    const others = cluster.members.filter((other) => other !== member).map((other) => other.clientUrl);
    return new Client({ endpoints: [member.clientUrl, ...others] });
  }

  /** Brings a killed member back, so that the next test has three members again. */
  async function restartAfter(member: ClusterMember): Promise<void> {
    cluster.restart(member.name);
    await cluster.waitForLeader();
  }

  test("kv: put, get by prefix, range, revision, limit, sort, keys and count only; delete; txn; compaction", async () => {
    const first = await client.kv.put("kv/a", "1");
    await client.kv.put("kv/b", "2");
    await client.kv.put("kv/c", "3");
    const overwritten = await client.kv.put("kv/a", "10", { prevKv: true });
    assert.equal(overwritten.prevKv?.value.toString(), "1");

    const all = await client.kv.get("kv/", { prefix: true });
    assert.deepEqual(
      all.kvs.map((kv) => `${kv.key}=${kv.value}`),
      ["kv/a=10", "kv/b=2", "kv/c=3"],
    );
    assert.equal(all.count, 3);
    const old = await client.kv.get("kv/a", { revision: first.header.revision });
    assert.equal(old.kvs[0]?.value.toString(), "1");
    const limited = await client.kv.get("kv/", { prefix: true, limit: 2, sort: { target: "MOD", order: "DESCEND" } });
    assert.deepEqual(
      limited.kvs.map((kv) => kv.key.toString()),
      ["kv/a", "kv/c"],
    );
    assert.equal(limited.more, true);
    const range = await client.kv.get("kv/b", { rangeEnd: "kv/d", keysOnly: true });
    assert.deepEqual(
      range.kvs.map((kv) => [kv.key.toString(), kv.value.byteLength]),
      [
        ["kv/b", 0],
        ["kv/c", 0],
      ],
    );
    assert.equal((await client.kv.get("kv/", { prefix: true, countOnly: true })).count, 3);

    const txn = await client.kv.txn({
      compare: [{ key: "kv/a", target: "VALUE", result: "EQUAL", value: "10" }],
      success: [{ put: { key: "kv/d", value: "4" } }, { get: { key: "kv/d" } }],
      failure: [{ get: { key: "kv/a" } }],
    });
    assert.equal(txn.succeeded, true);
    const read = txn.responses[1];
    assert.ok(read && "get" in read);
    assert.equal(read.get.kvs[0]?.value.toString(), "4");
    const refused = await client.kv.txn({ compare: [{ key: "kv/a", target: "VERSION", result: "GREATER", version: 5 }], failure: [{ get: { key: "kv/a" } }] });
    assert.equal(refused.succeeded, false);

    const deleted = await client.kv.delete("kv/", { prefix: true, prevKv: true });
    assert.equal(deleted.deleted, 4);
    assert.equal(deleted.prevKvs.length, 4);

    await assert.rejects(client.kv.get("kv/a", { revision: deleted.header.revision + 1000 }), (error: unknown) => {
      assert.ok(error instanceof EtcdError);
      assert.equal(error.code, GrpcCode.OutOfRange);
      assert.match(error.message, /future revision/);
      return true;
    });

    await client.kv.compact(deleted.header.revision);
    const compacted = client.watch.watch("kv/", { prefix: true, startRevision: first.header.revision });
    await assert.rejects(
      async () => {
        for await (const _event of compacted) assert.fail("a compacted watch delivers nothing");
      },
      (error: unknown) => error instanceof CompactedError && error.compactRevision === deleted.header.revision && /compacted: re-list/.test(error.message),
    );
  });

  test("native /v1: raw values, compare-and-set by revision, listing, deletion", async () => {
    const created = await client.native.put("native/a b", Buffer.from([0, 1, 2]), { prevRevision: 0 });
    const kv = await client.native.get("native/a b");
    assert.deepEqual([...(kv?.value ?? [])], [0, 1, 2]);
    assert.equal(kv?.modRevision, created.revision);
    await assert.rejects(client.native.put("native/a b", "x", { prevRevision: created.revision - 1 }), (error: unknown) => {
      assert.ok(error instanceof EtcdError);
      assert.equal(error.httpStatus, 412);
      assert.equal(error.code, GrpcCode.FailedPrecondition);
      return true;
    });
    await client.native.put("native/a b", "y", { prevRevision: created.revision });
    await client.native.put("native/c", "z");
    const listing = await client.native.list("native/");
    assert.deepEqual(
      listing.kvs.map((each) => `${each.key}=${each.value}`),
      ["native/a b=y", "native/c=z"],
    );
    assert.equal((await client.native.delete("native/", { prefix: true })).deleted, 2);
    assert.equal(await client.native.get("native/c"), undefined);
  });

  test("lease: grant, keys bound to it, time to live, list, keep-alive, revoke", async () => {
    const session = await client.lease.session(3);
    await client.kv.put("leased/x", "1", { lease: session.id });
    const ttl = await client.lease.timeToLive(session.id, { keys: true });
    assert.equal(ttl.grantedTtl, 3);
    assert.deepEqual(ttl.keys.map(String), ["leased/x"]);
    assert.ok((await client.lease.list()).ids.includes(session.id));
    assert.equal((await client.lease.keepAliveOnce(session.id)).ttl, 3);
    const [renewedTtl] = await once(session, "renewed");
    assert.equal(renewedTtl, 3, "the keep-alive loop renews by itself");

    await session.revoke();
    assert.equal((await client.kv.get("leased/x")).count, 0);
    assert.equal((await client.lease.timeToLive(session.id)).ttl, -1);
    assert.equal((await client.lease.keepAliveOnce(session.id)).ttl, 0, "a keep-alive of a revoked lease answers TTL 0");
  });

  test("cluster and maintenance: members, a learner added and removed, status, hashes, health, snapshot", async () => {
    const { members } = await client.cluster.memberList();
    assert.deepEqual(members.map((member) => member.name).sort(), ["n1", "n2", "n3"]);
    const added = await client.cluster.memberAdd([`http://127.0.0.1:${await freePort()}`], { isLearner: true });
    assert.equal(added.member.isLearner, true);
    assert.equal(added.members.length, 4);
    assert.equal((await client.cluster.memberRemove(added.member.id)).members.length, 3);

    // On a busy machine an election may be under way: wait for every member to name the same leader.
    await waitFor("every member's status to name the same leader", async () => {
      const leaders = new Set((await client.maintenance.statusAll()).map((each) => ("status" in each ? each.status.leader : 0)));
      return leaders.size === 1 && !leaders.has(0);
    });
    const revision = (await client.kv.put("hash/x", "1")).header.revision;
    // Each member's hash waits for a read barrier: it has applied the write before it hashes.
    const hashes = await Promise.all(cluster.members.map((member) => client.maintenance.hashKv(revision, { endpoint: member.clientUrl })));
    assert.equal(new Set(hashes.map((each) => each.hash)).size, 1, "members agree at a revision");
    await waitFor("every endpoint healthy", async () => (await client.maintenance.health()).every((each) => each.healthy));

    let bytes = 0;
    for await (const chunk of client.maintenance.snapshot()) bytes += chunk.byteLength;
    assert.ok(bytes > 0, "a snapshot streams the member's state");
  });

  test("no member answering is an error that names every endpoint and why", async () => {
    const closed = [`http://127.0.0.1:${await freePort()}`, `http://127.0.0.1:${await freePort()}`];
    const lonely = new Client({ endpoints: closed, requestTimeoutMs: 500 });
    try {
      await assert.rejects(lonely.kv.get("x"), (error: unknown) => {
        assert.ok(error instanceof NoEndpointAvailableError);
        assert.deepEqual(
          error.failures.map((failure) => failure.endpoint),
          closed,
        );
        for (const failure of error.failures) assert.match(failure.reason, /ECONNREFUSED/);
        return true;
      });
    } finally {
      await lonely.close();
    }
  });

  test("a watch resumes on another member after SIGKILL of its member: no event missed or repeated", async () => {
    const watched = await cluster.waitForLeader();
    const watching = clientPreferring(watched);
    const start = (await client.kv.put("w/start", "")).header.revision + 1;
    const watcher = watching.watch.watch("w/", { prefix: true, startRevision: start });
    const events: WatchEvent[] = [];
    const reading = (async () => {
      for await (const event of watcher) events.push(event);
    })();
    try {
      const written: number[] = [];
      const write = async (count: number): Promise<void> => {
        for (let i = 0; i < count; i++) written.push((await client.kv.put(`w/${written.length}`, "v")).header.revision);
      };
      await write(20);
      await waitFor("the watch to deliver the first writes", async () => events.length >= 10);
      assert.equal(watcher.endpoint, watched.clientUrl);
      await cluster.kill(watched.name);
      await write(30);
      await waitFor("every write to be delivered", async () => events.length >= written.length, 15_000);

      const delivered = events.map((event) => event.kv.modRevision);
      assert.deepEqual(delivered, written, "each write's revision exactly once, in order");
      assert.ok(watcher.resumes >= 1, "the watch moved to another member");
      assert.notEqual(watcher.endpoint, watched.clientUrl);
    } finally {
      watcher.close();
      await reading;
      await watching.close();
      await restartAfter(watched);
    }
  });

  test("a watch leaves a member that stops answering (SIGSTOP) once its stream stays silent", async () => {
    const paused = (await cluster.waitForLeader()) === cluster.members[0] ? cluster.members[1]! : cluster.members[0]!;
    const watching = clientPreferring(paused);
    const watcher = watching.watch.watch("quiet/", { prefix: true, idleTimeoutMs: 1_500 });
    const events: WatchEvent[] = [];
    const reading = (async () => {
      for await (const event of watcher) events.push(event);
    })();
    try {
      await waitFor("the watch to open on the member to be paused", async () => watcher.endpoint === paused.clientUrl);
      paused.process?.kill("SIGSTOP");
      const written = (await client.kv.put("quiet/after-pause", "v")).header.revision;
      await waitFor("the write, through another member", async () => events.some((event) => event.kv.modRevision === written), 15_000);
      assert.notEqual(watcher.endpoint, paused.clientUrl);
    } finally {
      paused.process?.kill("SIGCONT");
      watcher.close();
      await reading;
      await watching.close();
    }
  });

  test("a lock stays held across SIGKILL of its member; tokens grow; a lost lease is signalled", async () => {
    const holderMember = await cluster.waitForLeader();
    const holding = clientPreferring(holderMember);
    const ttl = 2;
    const held = await new Lock(holding, "locks/failover", { ttl }).acquire();
    try {
      await cluster.kill(holderMember.name);
      const killedAt = Date.now();
      // A new leader gives each lease at most its TTL from the last renewal it applied: alive two TTLs
      // after the kill means renewals went through the surviving members.
      await waitFor(
        "two TTLs after the kill, with the lease alive all along",
        async () => {
          assert.ok((await client.lease.timeToLive(held.leaseId)).ttl > 0, "the lock's lease must not expire while its holder keeps it alive");
          return Date.now() - killedAt > 2 * ttl * 1000 + 500;
        },
        15_000,
      );
      assert.equal(held.lost.aborted, false);
      const guarded = await holding.kv.txn({ compare: [held.guard()], success: [{ put: { key: "fenced/resource", value: String(held.fencingToken) } }] });
      assert.equal(guarded.succeeded, true, "writes guarded by the held lock go through");

      const next = new Lock(client, "locks/failover", { ttl }).acquire();
      await held.release();
      const second = await next;
      assert.ok(second.fencingToken > held.fencingToken, `tokens grow: ${held.fencingToken} then ${second.fencingToken}`);

      // Someone else ends the holder's lease: the holder is told, and its guarded writes are refused.
      await client.lease.revoke(second.leaseId);
      await waitFor("the lost signal", async () => second.lost.aborted);
      assert.ok(second.lost.reason instanceof LeaseLostError);
      const stale = await client.kv.txn({ compare: [second.guard()], success: [{ put: { key: "fenced/resource", value: "stale" } }] });
      assert.equal(stale.succeeded, false, "a holder that lost the lock cannot write with it");
      await second.release();
    } finally {
      await holding.close();
      await restartAfter(holderMember);
    }
  });

  test("election: the oldest candidate leads; observers see its proclaims, then the next candidate once it resigns", async () => {
    const election = new Election(client, "elections/chief");
    const first = await election.campaign("one");
    const stopObserving = new AbortController();
    const seen: string[] = [];
    const observing = (async () => {
      for await (const leader of election.observe({ signal: stopObserving.signal })) seen.push(leader.value.toString());
    })();
    try {
      await waitFor("the observer to see the first leader", async () => seen.length > 0);
      const waiting = election.campaign("two");
      await first.proclaim("one, again");
      await waitFor("the observer to see the proclaimed value", async () => seen.includes("one, again"));
      assert.equal((await election.leader())?.value.toString(), "one, again");

      await first.resign();
      const second = await waiting;
      assert.ok(second.createRevision > first.createRevision, "a new leader has a newer candidacy");
      await waitFor("the observer to see the second leader", async () => seen.includes("two"));
      assert.deepEqual(seen, ["one", "one, again", "two"]);
      assert.equal((await election.leader())?.createRevision, second.createRevision);
      await assert.rejects(first.proclaim("stale"), NotLeaderError, "a resigned leader cannot proclaim");
      await second.resign();
      assert.equal(await election.leader(), undefined);
    } finally {
      stopObserving.abort();
      await observing.catch(() => undefined);
    }
  });

  // The server's replicated request id window is what keeps a retry of a write its member applied before dying from applying again.
  test("a write burst survives SIGKILL of the member it goes through: every acknowledged write present, none applied twice", async () => {
    const target = await cluster.waitForLeader();
    const writing = clientPreferring(target);
    const start = (await client.kv.put("burst-start", "")).header.revision + 1;
    const acknowledged = new Map<string, number>();
    let running = true;
    const lane = async (id: number): Promise<void> => {
      for (let n = 0; running; n++) {
        const key = `burst/${id}/${String(n).padStart(4, "0")}`;
        acknowledged.set(key, (await writing.kv.put(key, key)).header.revision);
      }
    };
    const lanes = Array.from({ length: 8 }, (_, id) => lane(id));
    try {
      await waitFor("writes flowing", async () => acknowledged.size >= 100);
      await cluster.kill(target.name);
      const atKill = acknowledged.size;
      await waitFor("writes flowing again after the kill", async () => acknowledged.size >= atKill + 200, 15_000);
    } finally {
      running = false;
      await Promise.all(lanes);
      await writing.close();
      await restartAfter(target);
    }

    const stored = await client.kv.get("burst/", { prefix: true });
    const byKey = new Map(stored.kvs.map((kv) => [kv.key.toString(), kv]));
    for (const [key, revision] of acknowledged) {
      const kv = byKey.get(key);
      assert.ok(kv, `acknowledged ${key} must be stored`);
      assert.equal(kv.modRevision, revision, `${key} holds the write that was acknowledged`);
    }
    // Every put of the burst is to a fresh key: a write applied twice would show as a second version.
    const twice = stored.kvs.filter((kv) => kv.version !== 1).map((kv) => kv.key.toString());
    assert.deepEqual(twice, [], "no write applied twice");
    // And by revisions: each revision since the burst began is exactly one put of one key.
    const last = Math.max(...stored.kvs.map((kv) => kv.modRevision));
    const history = await revisionsOf(client, "burst/", start, last);
    assert.equal(history.length, stored.kvs.length, "one event per stored key");
  });
});

/** Every event under `prefix` from `from` through `through` (an event's revision), read back from history with a watch. */
async function revisionsOf(client: Client, prefix: string, from: number, through: number): Promise<WatchEvent[]> {
  const events: WatchEvent[] = [];
  const watcher = client.watch.watch(prefix, { prefix: true, startRevision: from });
  for await (const event of watcher) {
    events.push(event);
    if (event.kv.modRevision >= through) break;
  }
  watcher.close();
  return events;
}
