/**
 * Messages between real transports on 127.0.0.1: round trips, batching,
 * reconnection, bounded queues and the handshake.
 */
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { MessageType, type Message } from "@raftkv/raft";
import { Transport, isRemovalRefusal } from "../src/index.js";
import { CLUSTER, LOOPBACK, connectedTo, entry, introduce, message, startMember, stopAll, waitFor, type TestMember } from "./support/harness.js";

const running: TestMember[] = [];
after(() => stopAll(...running));

async function member(...args: Parameters<typeof startMember>): Promise<TestMember> {
  const started = await startMember(...args);
  running.push(started);
  return started;
}

function pick(stats: { queued: number; dropped: number } | undefined): { queued?: number; dropped?: number } {
  return { queued: stats?.queued, dropped: stats?.dropped };
}

async function connectedPair(options: Parameters<typeof startMember>[1] = {}): Promise<[TestMember, TestMember]> {
  const a = await member(1, options);
  const b = await member(2, options);
  introduce(a, b);
  await waitFor("both links up", () => connectedTo(a, 2) && connectedTo(b, 1));
  return [a, b];
}

describe("messages", () => {
  test("an append with binary entries arrives intact, its binary fields as Uint8Array", async () => {
    const [a, b] = await connectedPair();
    const sent = message(1, 2, {
      type: MessageType.App,
      term: 3,
      logTerm: 2,
      index: 41,
      commit: 40,
      entries: [entry(42, new Uint8Array([0, 1, 2, 255])), entry(43, new Uint8Array(0)), entry(44, new Uint8Array(300_000).fill(7))],
      context: new Uint8Array([9, 9]),
    });
    a.transport.send([sent]);
    await waitFor("the append", () => b.inbox.length === 1);
    const received = b.inbox[0] as Message;
    assert.deepEqual({ ...received, entries: received.entries.map((e) => ({ ...e })) }, { ...sent, entries: sent.entries.map((e) => ({ ...e })) });
    for (const binary of [...received.entries.map((e) => e.data), received.context]) {
      assert.equal(Object.getPrototypeOf(binary), Uint8Array.prototype);
    }
    await stopAll(a, b);
  });

  test("messages queued in one event-loop turn leave in one frame", async () => {
    const [a, b] = await connectedPair();
    const batch = Array.from({ length: 1000 }, (_, i) => message(1, 2, { commit: i }));
    for (const one of batch) a.transport.send([one]);
    await waitFor("the batch", () => b.inbox.length === 1000);
    assert.deepEqual(
      b.inbox.map((m) => m.commit),
      batch.map((m) => m.commit),
      "in order",
    );
    const turns = 3;
    for (let turn = 0; turn < turns; turn++) {
      a.transport.send([message(1, 2), message(1, 2)]);
      await new Promise((resolve) => setImmediate(resolve));
    }
    await waitFor("three more turns", () => b.inbox.length === 1000 + 2 * turns);
    const stats = a.transport.stats().peers.get(2);
    assert.equal(stats?.framesSent, 1 + turns);
    assert.equal(stats?.sent, 1000 + 2 * turns);
    assert.equal(b.transport.stats().peers.get(1)?.framesReceived, 1 + turns);
    await stopAll(a, b);
  });

  test("a peer that restarts on its address is redialed and reached again", async () => {
    const [a, b] = await connectedPair();
    await b.transport.stop();
    await waitFor("the outage report", () => a.events.some((e) => e.kind === "unreachable"));
    const outage = a.events.find((e) => e.kind === "unreachable");
    assert.equal(outage?.kind === "unreachable" && outage.failure.cause, "reset", "a stopped peer ends the stream");

    const restarted = await member(2, { listen: b.address });
    restarted.transport.addPeer(1, a.address);
    await waitFor("the link back up", () => connectedTo(a, 2));
    a.transport.send([message(1, 2, { commit: 5 })]);
    await waitFor("a message to the restarted peer", () => restarted.inbox.length === 1);
    assert.equal(a.transport.stats().peers.get(2)?.reconnects, 1);
    assert.deepEqual(
      a.events.map((e) => e.kind),
      ["connected", "unreachable", "connected"],
      "one report per outage, however many redials failed",
    );
    await stopAll(a, restarted);
  });

  test("while a peer is down its queue stays bounded, and what was queued for it is dropped, not delivered late", async () => {
    const absent = await member(2);
    await absent.transport.stop(); // frees a port nobody listens on
    const capacity = 100;
    const a = await member(1, { maxQueuedMessages: capacity, peers: new Map([[2, absent.address]]) });
    const total = 10_000;
    a.transport.send(Array.from({ length: total }, (_, i) => message(1, 2, { commit: i })));
    assert.deepEqual(pick(a.transport.stats().peers.get(2)), { queued: capacity, dropped: total - capacity });

    await waitFor("the outage report", () => a.events.some((e) => e.kind === "unreachable"));
    a.transport.send([message(1, 2, { commit: total })]);
    assert.deepEqual(pick(a.transport.stats().peers.get(2)), { queued: 0, dropped: total + 1 });

    const b = await member(2, { listen: absent.address, peers: new Map([[1, a.address]]) });
    await waitFor("the link back up", () => connectedTo(a, 2));
    a.transport.send([message(1, 2, { commit: total + 1 })]);
    await waitFor("the message sent once it was back", () => b.inbox.length > 0);
    assert.deepEqual(
      b.inbox.map((m) => m.commit),
      [total + 1],
      "a deposed leader's old heartbeats would make a restarted peer follow it",
    );
    await stopAll(a, b);
  });

  test("a peer that dials in is dialed back at once, not after the link's backoff", async () => {
    const absent = await member(2);
    await absent.transport.stop();
    const a = await member(1, { backoff: { initialMs: 120_000, maxMs: 120_000 }, peers: new Map([[2, absent.address]]) });
    await waitFor("the outage report", () => a.events.some((e) => e.kind === "unreachable"));

    const b = await member(2, { listen: absent.address, peers: new Map([[1, a.address]]) });
    await waitFor("a's link to the restarted peer", () => connectedTo(a, 2));
    await stopAll(a, b);
  });

  test("a message handler that throws is logged and the link carries on", async () => {
    let calls = 0;
    const [a, b] = await connectedPair({
      onMessages: () => {
        if (++calls === 1) throw new Error("bug in the server");
      },
    });
    a.transport.send([message(1, 2)]);
    await waitFor("the failure logged", () => b.log.some((r) => r.level === "error" && r.message === "onMessages failed"));
    a.transport.send([message(1, 2)]);
    await waitFor("the next message", () => b.inbox.length === 2);
    assert.ok(connectedTo(a, 2));
    await stopAll(a, b);
  });

  test("messages for members it does not know are dropped and counted", async () => {
    const a = await member(1);
    a.transport.send([message(1, 9), message(1, 9)]);
    assert.equal(a.transport.stats().droppedForUnknownPeers, 2);
    await stopAll(a);
  });
});

describe("handshake", () => {
  /** Has `dialer` dial `acceptor`, which it knows as member `as`, and expects a refusal. */
  async function expectRefusal(dialer: TestMember, acceptor: TestMember, reason: RegExp, as = acceptor.id): Promise<void> {
    dialer.transport.addPeer(as, acceptor.address);
    await waitFor("the refusal", () => dialer.events.some((e) => e.kind === "unreachable"));
    const event = dialer.events.find((e) => e.kind === "unreachable");
    assert.ok(event?.kind === "unreachable");
    assert.equal(event.failure.cause, "rejected");
    assert.match(event.failure.detail, reason);
    const logged = acceptor.log.find((r) => r.level === "warn" && r.message === "peer connection refused");
    assert.ok(logged, "the acceptor logs the refusal");
    assert.match(String((logged.fields as { reason: unknown }).reason), reason);
    assert.equal(connectedTo(dialer, as), false);
  }

  test("a member of another cluster is refused and logged", async () => {
    const acceptor = await member(2);
    const stranger = await member(1, { clusterId: CLUSTER + 1 });
    acceptor.transport.addPeer(1, stranger.address);
    await expectRefusal(stranger, acceptor, /cluster 8 is not this cluster/);
    await stopAll(acceptor, stranger);
  });

  test("an unknown member is refused and logged", async () => {
    const acceptor = await member(2);
    const unknown = await member(5);
    await expectRefusal(unknown, acceptor, /member 5 is not a known member/);
    await stopAll(acceptor, unknown);
  });

  test("a member the acceptor knows was removed is told so", async () => {
    const acceptor = await member(2, { wasRemoved: (peer) => peer === 5 });
    const removed = await member(5);
    await expectRefusal(removed, acceptor, /^the member has been permanently removed from the cluster$/);
    const refusal = removed.events.find((e) => e.kind === "unreachable");
    assert.ok(refusal?.kind === "unreachable" && isRemovalRefusal(refusal.failure));
    await stopAll(acceptor, removed);
  });

  test("a dialer that expects another member at the address is refused", async () => {
    const acceptor = await member(2);
    const confused = await member(1);
    acceptor.transport.addPeer(1, confused.address);
    await expectRefusal(confused, acceptor, /member 3 was expected, this is member 2/, 3);
    await stopAll(acceptor, confused);
  });

  test("a removed member is disconnected and refused; addPeer of a known member follows its move", async () => {
    const [a, b] = await connectedPair();
    b.transport.removePeer(1);
    await waitFor("a loses its link", () => !connectedTo(a, 2));
    await waitFor("a is refused", () => b.log.some((r) => r.message === "peer connection refused"));

    const moved = await member(2, { peers: new Map([[1, a.address]]) });
    a.transport.addPeer(2, moved.address);
    await waitFor("the link to the new address", () => connectedTo(a, 2));
    a.transport.send([message(1, 2)]);
    await waitFor("a message at the new address", () => moved.inbox.length === 1);
    assert.equal(b.inbox.length, 0);
    await stopAll(a, b, moved);
  });

  test("options are checked", () => {
    const onMessages = (): void => {};
    assert.throws(() => new Transport({ clusterId: 1, memberId: 0, listen: LOOPBACK, onMessages }), RangeError);
    assert.throws(() => new Transport({ clusterId: 1.5, memberId: 1, listen: LOOPBACK, onMessages }), RangeError);
  });
});
