/**
 * etcd's gRPC services on a real in-process member, through grpc-js's own
 * client and the same .proto files: one port for HTTP/1 and gRPC, etcd's
 * statuses, the require-leader metadata, idempotency keys, the Watch and
 * LeaseKeepAlive streams, and the snapshot stream's trailer.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { connect } from "node:net";
import { after, before, describe, test } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { bytes, call, clientOf, collect, messagesOf, rejection, startMember, untilLeader, type Client, type Member, type Message } from "./support/grpc.js";

describe("gRPC on a member that leads", () => {
  let member: Member;
  let kv: Client;
  before(async () => {
    member = await startMember();
    kv = clientOf("KV", member.address);
    // A request waits at most one election timeout for an election, and a
    // new member's first one may take up to two: ask until it has a leader.
    await untilLeader(() => call(kv, "Put", { key: bytes("warm"), value: bytes("up") }));
  });
  after(async () => {
    kv?.close();
    await member?.stop();
  });

  test("the client port answers HTTP/1 and gRPC alike", async () => {
    const health = await fetch(`http://${member.address}/health`);
    assert.equal(health.status, 200);
    const range = await call(kv, "Range", { key: bytes("warm") });
    assert.equal(Buffer.from(range.kvs[0].value).toString(), "up");
    assert.equal(range.header.member_id, member.node.memberId);
    assert.equal(range.header.cluster_id, member.node.clusterId);
    assert.ok(range.header.raft_term > 0);
  });

  test("an :authority with a scheme, as etcdctl sends it to one endpoint, is served", async () => {
    const schemed = clientOf("KV", member.address, { "grpc.default_authority": `http://${member.address}` });
    for (let i = 0; i < 3; i++) assert.equal((await call(schemed, "Range", { key: bytes("warm") })).count, 1);
    schemed.close();
  });

  test("put, range with options, a nested txn and delete, as etcd answers them", async () => {
    await call(kv, "Put", { key: bytes("t/a"), value: bytes("1") });
    const put = await call(kv, "Put", { key: bytes("t/a"), value: bytes("2"), prev_kv: true });
    assert.equal(Buffer.from(put.prev_kv.value).toString(), "1");
    await call(kv, "Put", { key: bytes("t/b"), value: bytes("3") });
    const range = await call(kv, "Range", { key: bytes("t/"), range_end: bytes("t0"), sort_order: "DESCEND", limit: 1 });
    assert.deepEqual([range.kvs.map((k: Message) => Buffer.from(k.key).toString()), range.count, range.more], [["t/b"], 2, true]);

    const txn = await call(kv, "Txn", {
      compare: [{ key: bytes("t/a"), target: "VALUE", result: "EQUAL", value: bytes("2") }],
      success: [
        {
          request_txn: {
            compare: [{ key: bytes("t/b"), target: "VERSION", result: "GREATER", version: 5 }],
            failure: [{ request_put: { key: bytes("t/c"), value: bytes("nested") } }],
          },
        },
        { request_range: { key: bytes("t/a") } },
      ],
    });
    assert.equal(txn.succeeded, true);
    assert.equal(txn.responses[0].response_txn.succeeded, false);
    assert.equal(Buffer.from(txn.responses[1].response_range.kvs[0].value).toString(), "2");
    const deleted = await call(kv, "DeleteRange", { key: bytes("t/"), range_end: bytes("t0"), prev_kv: true });
    assert.equal(deleted.deleted, 3);
    assert.equal(deleted.prev_kvs.length, 3);
  });

  test("errors carry etcd's gRPC codes and messages", async () => {
    const missing = await rejection(call(kv, "Put", { key: bytes("nothing-here"), ignore_value: true }));
    assert.deepEqual([missing.code, missing.details], [grpc.status.INVALID_ARGUMENT, "etcdserver: key not found"]);
    const empty = await rejection(call(kv, "Range", { key: bytes("") }));
    assert.deepEqual([empty.code, empty.details], [grpc.status.INVALID_ARGUMENT, "etcdserver: key is not provided"]);
    const duplicate = await rejection(
      call(kv, "Txn", { success: [{ request_put: { key: bytes("d"), value: bytes("1") } }, { request_put: { key: bytes("d"), value: bytes("2") } }] }),
    );
    assert.deepEqual([duplicate.code, duplicate.details], [grpc.status.INVALID_ARGUMENT, "etcdserver: duplicate key given in txn request"]);
    const auth = await rejection(call(clientOf("Auth", member.address), "Authenticate", { name: "root", password: "x" }));
    assert.deepEqual([auth.code, auth.details], [grpc.status.FAILED_PRECONDITION, "etcdserver: authentication is not enabled"]);
  });

  test("a retry under the same idempotency-key is applied once and answered with the first outcome", async () => {
    const metadata = new grpc.Metadata();
    metadata.set("idempotency-key", "grpc-retry-1");
    const first = await call(kv, "Put", { key: bytes("once"), value: bytes("x") }, metadata);
    const retry = await call(kv, "Put", { key: bytes("once"), value: bytes("x") }, metadata);
    assert.equal(retry.header.revision, first.header.revision);
    const range = await call(kv, "Range", { key: bytes("once") });
    assert.equal(range.kvs[0].version, 1);
  });

  test("one Watch stream carries several watches: ids, events, progress, cancel", async () => {
    const stream = clientOf("Watch", member.address).Watch() as grpc.ClientDuplexStream<Message, Message>;
    const created = collect(stream, (messages) => messages.filter((m) => m.created).length === 2);
    stream.write({ create_request: { key: bytes("w/"), range_end: bytes("w0"), prev_kv: true } });
    stream.write({ create_request: { key: bytes("other") } });
    assert.deepEqual(
      (await created).map((m) => m.watch_id),
      [0, 1],
    );

    const events = collect(stream, (messages) => messages.some((m) => m.events.length > 0));
    await call(kv, "Put", { key: bytes("w/1"), value: bytes("a") });
    const update = (await events).find((m) => m.events.length > 0)!;
    assert.equal(update.watch_id, 0);
    assert.equal(update.events[0].type, "PUT");
    assert.equal(Buffer.from(update.events[0].kv.key).toString(), "w/1");

    const progress = collect(stream, (messages) => messages.some((m) => m.watch_id === -1));
    stream.write({ progress_request: {} });
    assert.ok((await progress).some((m) => m.watch_id === -1 && m.header.revision >= update.header.revision));

    const canceled = collect(stream, (messages) => messages.some((m) => m.canceled));
    stream.write({ cancel_request: { watch_id: 0 } });
    assert.equal((await canceled).find((m) => m.canceled)!.watch_id, 0);
    stream.end();
  });

  test("puts fanned out to many watches of one stream reach each watch as its own options shape them, and none after its cancel", async () => {
    const stream = clientOf("Watch", member.address).Watch() as grpc.ClientDuplexStream<Message, Message>;
    const plainIds = Array.from({ length: 40 }, (_, i) => 100 + i);
    const [withPrevious, noPut, canceledEarly] = [200, 201, 202];
    const eventCount = (messages: Message[]): number => messages.reduce((sum, m) => sum + m.events.length, 0);
    const created = collect(stream, (messages) => messages.filter((m) => m.created).length === plainIds.length + 3);
    const canceled = collect(stream, (messages) => messages.some((m) => m.canceled));
    const all = collect(stream, (messages) => eventCount(messages) === plainIds.length * 3 + 3 + 1 + 2);
    for (const id of plainIds) stream.write({ create_request: { key: bytes("fan"), watch_id: id } });
    stream.write({ create_request: { key: bytes("fan"), watch_id: withPrevious, prev_kv: true } });
    stream.write({ create_request: { key: bytes("fan"), watch_id: noPut, filters: ["NOPUT"] } });
    stream.write({ create_request: { key: bytes("fan"), watch_id: canceledEarly } });
    await created;
    await call(kv, "Put", { key: bytes("fan"), value: bytes("1") });
    await call(kv, "Put", { key: bytes("fan"), value: bytes("2") });
    // One of the plain watches' group leaves before the delete.
    stream.write({ cancel_request: { watch_id: canceledEarly } });
    await canceled;
    const deleted = await call(kv, "DeleteRange", { key: bytes("fan") });

    const messages = await all;
    const seenBy = (id: number): unknown[] =>
      messages
        .filter((m) => m.watch_id === id)
        .flatMap((m) => m.events.map((e: Message) => [e.type, Buffer.from(e.kv.value).toString(), e.prev_kv ? Buffer.from(e.prev_kv.value).toString() : null]));
    for (const id of plainIds)
      assert.deepEqual(
        seenBy(id),
        [
          ["PUT", "1", null],
          ["PUT", "2", null],
          ["DELETE", "", null],
        ],
        `watch ${id}`,
      );
    assert.deepEqual(seenBy(withPrevious), [
      ["PUT", "1", null],
      ["PUT", "2", "1"],
      ["DELETE", "", "2"],
    ]);
    assert.deepEqual(seenBy(noPut), [["DELETE", "", null]]);
    assert.deepEqual(seenBy(canceledEarly), [
      ["PUT", "1", null],
      ["PUT", "2", null],
    ]);
    const deletion = messages.find((m) => m.watch_id === noPut && m.events.length > 0)!;
    assert.equal(deletion.header.revision, deleted.header.revision);
    stream.end();
  });

  test("a watch from a compacted revision is created, then canceled with the compact revision", async () => {
    const first = await call(kv, "Put", { key: bytes("c/1"), value: bytes("a") });
    const latest = await call(kv, "Put", { key: bytes("c/1"), value: bytes("b") });
    await call(kv, "Compact", { revision: latest.header.revision });
    const stream = clientOf("Watch", member.address).Watch() as grpc.ClientDuplexStream<Message, Message>;
    const messages = collect(stream, (all) => all.some((m) => m.canceled));
    stream.write({ create_request: { key: bytes("c/1"), start_revision: first.header.revision } });
    const [created, canceled] = await messages;
    assert.equal(created!.created, true);
    assert.deepEqual([canceled!.canceled, canceled!.compact_revision], [true, latest.header.revision]);
    stream.end();
  });

  test("a watch created with fragment gets a revision larger than the request limit in parts, as etcd splits it", async () => {
    // Four deletes in one revision, each carrying a 600 KiB previous value: 2.4 MB, over the 1.5 MiB limit; two events fit in one part.
    const value = Buffer.alloc(600 * 1024, "v");
    for (let i = 0; i < 4; i++) await call(kv, "Put", { key: bytes(`big/${i}`), value });
    const stream = clientOf("Watch", member.address).Watch() as grpc.ClientDuplexStream<Message, Message>;
    const messages = messagesOf(stream);
    const range = { key: bytes("big/"), range_end: bytes("big0"), prev_kv: true };
    stream.write({ create_request: { ...range, fragment: true } });
    stream.write({ create_request: range });
    await messages.atLeast(2);
    await call(kv, "DeleteRange", range);
    const updates = (await messages.atLeast(5)).slice(2);
    stream.end();
    const of = (id: number) =>
      updates.filter((m) => m.watch_id === id).map((m) => [m.events.map((e: Message) => Buffer.from(e.kv.key).toString()), m.fragment]);
    assert.deepEqual(of(0), [
      [["big/0", "big/1"], true],
      [["big/2", "big/3"], false],
    ]);
    assert.deepEqual(of(1), [[["big/0", "big/1", "big/2", "big/3"], false]]);
  });

  test("LeaseKeepAlive renews a lease and answers TTL 0 for one that does not exist", async () => {
    const lease = clientOf("Lease", member.address);
    const granted = await call(lease, "LeaseGrant", { TTL: 30 });
    const stream = lease.LeaseKeepAlive() as grpc.ClientDuplexStream<Message, Message>;
    const answers = collect(stream, (messages) => messages.length === 2);
    stream.write({ ID: granted.ID });
    stream.write({ ID: 12345 });
    assert.deepEqual(
      (await answers).map((m) => [m.ID, m.TTL]),
      [
        [granted.ID, 30],
        [12345, 0],
      ],
    );
    stream.end();
  });

  test("Lock queues a second holder until the first unlocks", async () => {
    const lease = clientOf("Lease", member.address);
    const [first, second] = [await call(lease, "LeaseGrant", { TTL: 30 }), await call(lease, "LeaseGrant", { TTL: 30 })];
    const lock = clientOf("Lock", member.address);
    const held = await call(lock, "Lock", { name: bytes("jobs"), lease: first.ID });
    assert.equal(Buffer.from(held.key).toString(), `jobs/${first.ID.toString(16)}`);
    let secondHeld = false;
    const waiting = call(lock, "Lock", { name: bytes("jobs"), lease: second.ID }).then((response) => {
      secondHeld = true;
      return response;
    });
    // The second contender's key exists once it queues; it must still be waiting then.
    const secondKey = bytes(`jobs/${second.ID.toString(16)}`);
    const deadline = Date.now() + 10_000;
    while ((await call(kv, "Range", { key: secondKey })).count === 0) {
      assert.ok(Date.now() < deadline, "the second contender never queued");
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.equal(secondHeld, false);
    await call(lock, "Unlock", { key: held.key });
    assert.deepEqual(Buffer.from((await waiting).key), secondKey);
  });

  test("a Lock call the client cancels while it waits gives up its place in the queue", async () => {
    const lease = clientOf("Lease", member.address);
    const [first, second] = [await call(lease, "LeaseGrant", { TTL: 30 }), await call(lease, "LeaseGrant", { TTL: 30 })];
    const lock = clientOf("Lock", member.address);
    const held = await call(lock, "Lock", { name: bytes("queue"), lease: first.ID });
    const waiting = lock.Lock({ name: bytes("queue"), lease: second.ID }, () => undefined) as grpc.ClientUnaryCall;
    const secondKey = bytes(`queue/${second.ID.toString(16)}`);
    const keyCount = async (): Promise<number> => (await call(kv, "Range", { key: secondKey })).count;
    const until = async (wanted: number, what: string): Promise<void> => {
      const deadline = Date.now() + 10_000;
      while ((await keyCount()) !== wanted) {
        assert.ok(Date.now() < deadline, what);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    };
    await until(1, "the second contender never queued");
    waiting.cancel();
    await until(0, "the cancelled contender kept its place");
    await call(lock, "Unlock", { key: held.key });
  });

  test("Election: campaign, leader, proclaim, observe, resign", async () => {
    const granted = await call(clientOf("Lease", member.address), "LeaseGrant", { TTL: 30 });
    const election = clientOf("Election", member.address);
    const campaign = await call(election, "Campaign", { name: bytes("chief"), lease: granted.ID, value: bytes("first") });
    const leader = campaign.leader;
    assert.equal(Buffer.from(leader.name).toString(), "chief");
    assert.equal(Buffer.from((await call(election, "Leader", { name: bytes("chief") })).kv.value).toString(), "first");
    const observed = collect(election.Observe({ name: bytes("chief") }), (messages) => messages.some((m) => Buffer.from(m.kv.value).toString() === "second"));
    await call(election, "Proclaim", { leader, value: bytes("second") });
    assert.ok((await observed).length >= 1);
    await call(election, "Resign", { leader });
    const none = await rejection(call(election, "Leader", { name: bytes("chief") }));
    assert.deepEqual([none.code, none.details], [grpc.status.NOT_FOUND, "election: no leader"]);
  });

  test("a malformed message and a half HTTP/2 preface leave the member serving", async () => {
    const raw = new grpc.Client(member.address, grpc.credentials.createInsecure());
    const garbage = await rejection(
      new Promise((resolve, reject) =>
        raw.makeUnaryRequest(
          "/etcdserverpb.KV/Range",
          (b: Buffer) => b,
          (b: Buffer) => b,
          Buffer.from([0xff, 0xff, 0xff]),
          (error, response) => (error ? reject(error) : resolve(response)),
        ),
      ),
    );
    assert.equal(garbage.code, grpc.status.INTERNAL);
    raw.close();
    const [host, port] = member.address.split(":");
    const socket = connect(Number(port), host);
    await new Promise((resolve) => socket.once("connect", resolve));
    socket.end("PRI * HTTP/2.0\r\n");
    await new Promise((resolve) => socket.once("close", resolve));
    assert.equal((await call(kv, "Range", { key: bytes("warm") })).count, 1);
  });

  test("the snapshot stream ends with etcd's SHA-256 trailer over a 512-byte aligned body", async () => {
    const stream = clientOf("Maintenance", member.address).Snapshot({}) as grpc.ClientReadableStream<Message>;
    const blobs = (await collect(stream, () => false)).map((m) => Buffer.from(m.blob));
    const whole = Buffer.concat(blobs);
    assert.equal(whole.length % 512, 32);
    assert.deepEqual(whole.subarray(-32), createHash("sha256").update(whole.subarray(0, -32)).digest());
  });
});

test("on a member without a leader, a call with hasleader fails at once with 'etcdserver: no leader'", async (t) => {
  const member = await startMember(2);
  t.after(() => member.stop());
  const kv = clientOf("KV", member.address);
  t.after(() => kv.close());
  const metadata = new grpc.Metadata();
  metadata.set("hasleader", "true");
  const refused = await rejection(call(kv, "Range", { key: bytes("k") }, metadata));
  assert.deepEqual([refused.code, refused.details], [grpc.status.UNAVAILABLE, "etcdserver: no leader"]);
  const watch = clientOf("Watch", member.address).Watch(metadata) as grpc.ClientDuplexStream<Message, Message>;
  const ended = await rejection(collect(watch, () => false));
  assert.deepEqual([ended.code, ended.details], [grpc.status.UNAVAILABLE, "etcdserver: no leader"]);
});
