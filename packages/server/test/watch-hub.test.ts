/**
 * The watch hub hands a write's events out after the write is answered, in
 * a later turn of the event loop, as etcd does: the hub alone, then the
 * real services over a one-member stand-in for Raft (an answered put, a
 * progress response and a watch started meanwhile).
 */
import assert from "node:assert/strict";
import { after, before, describe, test, type TestContext } from "node:test";
import type { WatchEvent } from "@raftkv/mvcc";
import type { Event, SharedDelivery, WatchRequest, WatchUpdate } from "../src/kv/api.js";
import { type Interest, WATCHES_PER_TURN, WatchHub } from "../src/kv/watch-hub.js";
import { PROGRESS_EVERY_MS } from "../src/kv/watcher.js";
import { oneMemberServices, type ServicesFixture } from "./support/services.js";

const text = (value: string): Uint8Array => Buffer.from(value);
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Waits, a turn at a time, until `done` holds (a few hundred turns at most). */
async function until(done: () => boolean): Promise<void> {
  for (let turn = 0; turn < 500 && !done(); turn++) await nextTurn();
  assert.ok(done(), "not within 500 turns");
}

function putEvent(key: string, revision: number): WatchEvent {
  return { type: "PUT", kv: { key: text(key), value: text("v"), createRevision: revision, modRevision: revision, version: 1, lease: 0 } };
}

describe("the watch hub", () => {
  test("hands each batch out in a later turn, in revision order, to the subscribers whose range it matches", async () => {
    const hub = new WatchHub();
    const seen: [string[], number][] = [];
    hub.subscribe({ key: text("a"), rangeEnd: text("b") }, (events, revision) => seen.push([events.map((e) => Buffer.from(e.kv.key).toString()), revision]));
    hub.publish([putEvent("a1", 2)], 2);
    hub.publish([putEvent("a2", 3), putEvent("z", 3)], 3);
    assert.deepEqual(seen, [], "nothing is handed out in the turn that published it");
    await nextTurn();
    assert.deepEqual(seen, [
      [["a1"], 2],
      [["a2"], 3],
    ]);
  });

  test("deliverPending hands out at once what is pending, and the later turn finds nothing left", async () => {
    const hub = new WatchHub();
    const revisions: number[] = [];
    hub.subscribe({ key: text("k"), rangeEnd: new Uint8Array() }, (_events, revision) => revisions.push(revision));
    hub.publish([putEvent("k", 5)], 5);
    hub.deliverPending();
    assert.deepEqual(revisions, [5]);
    await nextTurn();
    assert.deepEqual(revisions, [5]);
  });

  test("a subscriber gone before the hand-out gets nothing, and events published to nobody are not kept", async () => {
    const hub = new WatchHub();
    hub.publish([putEvent("k", 2)], 2);
    const revisions: number[] = [];
    const unsubscribe = hub.subscribe({ key: text("k"), rangeEnd: new Uint8Array() }, (_events, revision) => revisions.push(revision));
    hub.publish([putEvent("k", 3)], 3);
    unsubscribe();
    await nextTurn();
    assert.deepEqual(revisions, []);
  });
});

describe("audiences: subscribers that want the same events", () => {
  function deleteEvent(key: string, revision: number, prevKv?: WatchEvent["kv"]): WatchEvent {
    const kv = { key: text(key), value: new Uint8Array(), createRevision: 0, modRevision: revision, version: 0, lease: 0 };
    return prevKv ? { type: "DELETE", kv, prevKv } : { type: "DELETE", kv };
  }

  test("each gets the events its range and options select; those with the same interest get the very same array", async () => {
    const hub = new WatchHub();
    const received = new Map<string, (readonly WatchEvent[])[]>();
    const subscribe = (name: string, interest: Interest): void => {
      received.set(name, []);
      hub.subscribe(interest, (events) => received.get(name)!.push(events));
    };
    const everything = { key: text("a"), rangeEnd: text("z") };
    subscribe("first", everything);
    subscribe("second", { ...everything });
    subscribe("with previous", { ...everything, prevKv: true });
    subscribe("no puts", { ...everything, noPut: true });
    subscribe("no deletes", { ...everything, noDelete: true });
    subscribe("one key", { key: text("b"), rangeEnd: new Uint8Array() });
    subscribe("from c on", { key: text("c"), rangeEnd: new Uint8Array([0]) });
    const put = putEvent("b", 4);
    const deleted = deleteEvent("c", 4, put.kv);
    const batch = [put, deleted, putEvent("zz", 4)];
    hub.publish(batch, 4);
    await nextTurn();
    const seen = Object.fromEntries(
      [...received].map(([name, lots]) => [name, lots.map((events) => events.map((e) => `${e.type} ${Buffer.from(e.kv.key)}${e.prevKv ? " +prev" : ""}`))]),
    );
    assert.deepEqual(seen, {
      first: [["PUT b", "DELETE c"]],
      second: [["PUT b", "DELETE c"]],
      "with previous": [["PUT b", "DELETE c +prev"]],
      "no puts": [["DELETE c"]],
      "no deletes": [["PUT b"]],
      "one key": [["PUT b"]],
      "from c on": [["DELETE c", "PUT zz"]],
    });
    assert.equal(received.get("first")![0], received.get("second")![0], "one selection for one interest");
    assert.equal(received.get("with previous")![0]![1], deleted, "an event taken as it is stays the same object");
  });

  test("a batch an interest takes whole is handed on as published, and one that is gone leaves the others theirs", async () => {
    const hub = new WatchHub();
    const arrays: (readonly WatchEvent[])[] = [];
    const interest = { key: text("k"), rangeEnd: new Uint8Array() };
    const unsubscribeFirst = hub.subscribe(interest, (events) => arrays.push(events));
    hub.subscribe(interest, (events) => arrays.push(events));
    const batch = [putEvent("k", 2)];
    hub.publish(batch, 2);
    await nextTurn();
    unsubscribeFirst();
    hub.publish([putEvent("k", 3)], 3);
    await nextTurn();
    assert.deepEqual(
      arrays.map((events) => events.map((e) => e.kv.modRevision)),
      [[2], [2], [3]],
    );
    assert.ok(arrays[0] === batch && arrays[1] === batch);
  });
});

describe("a large fan-out spread over turns", () => {
  test("each turn hands out to a share of the subscribers; a batch published meanwhile reaches each one after the earlier batch", async () => {
    const hub = new WatchHub();
    const count = WATCHES_PER_TURN * 2 + 10;
    const received: number[][] = Array.from({ length: count }, () => []);
    const unsubscribes = received.map((revisions) =>
      hub.subscribe({ key: text("k"), rangeEnd: new Uint8Array() }, (_events, revision) => revisions.push(revision)),
    );
    hub.publish([putEvent("k", 2)], 2);
    await nextTurn();
    assert.equal(received.filter((revisions) => revisions.length > 0).length, WATCHES_PER_TURN);
    hub.publish([putEvent("k", 3)], 3);
    // The last subscriber is canceled before the pass reaches it.
    unsubscribes.at(-1)!();
    for (let turn = 0; turn < 20; turn++) await nextTurn();
    assert.deepEqual(
      received.slice(0, -1),
      Array.from({ length: count - 1 }, () => [2, 3]),
    );
    assert.deepEqual(received.at(-1), []);
  });

  test("a subscriber counts for the watches it stands for: one standing for more than a turn's share is handed out alone in its turn", async () => {
    const hub = new WatchHub();
    const order: string[] = [];
    const key = { key: text("k"), rangeEnd: new Uint8Array() };
    hub.subscribe(
      key,
      () => order.push("group of 200"),
      () => 200,
    );
    hub.subscribe(
      key,
      () => order.push("group of 100"),
      () => 100,
    );
    hub.subscribe(key, () => order.push("single"));
    hub.publish([putEvent("k", 2)], 2);
    await nextTurn();
    assert.deepEqual(order, ["group of 200"]);
    await nextTurn();
    assert.deepEqual(order, ["group of 200", "group of 100", "single"]);
  });

  test("a listener that asks for a hand-out itself (a progress notification) leaves every subscriber one of each batch", async () => {
    const hub = new WatchHub();
    const received: number[][] = Array.from({ length: WATCHES_PER_TURN + 5 }, () => []);
    for (const [i, revisions] of received.entries()) {
      hub.subscribe({ key: text("k"), rangeEnd: new Uint8Array() }, (_events, revision) => {
        revisions.push(revision);
        if (i === 3) hub.deliverPending();
      });
    }
    hub.publish([putEvent("k", 2)], 2);
    for (let turn = 0; turn < 5; turn++) await nextTurn();
    assert.deepEqual(
      received,
      Array.from({ length: received.length }, () => [2]),
    );
  });

  test("deliverPending finishes the pass under way and the batches after it", async () => {
    const hub = new WatchHub();
    const received: number[][] = Array.from({ length: WATCHES_PER_TURN + 1 }, () => []);
    for (const revisions of received) hub.subscribe({ key: text("k"), rangeEnd: new Uint8Array() }, (_events, revision) => revisions.push(revision));
    hub.publish([putEvent("k", 2)], 2);
    await nextTurn();
    hub.publish([putEvent("k", 3)], 3);
    hub.deliverPending();
    assert.deepEqual(
      received,
      Array.from({ length: received.length }, () => [2, 3]),
    );
  });
});

describe("watches over the services: the write is answered before its events are handed out", () => {
  let services: ServicesFixture;
  before(async () => {
    services = await oneMemberServices();
  });
  after(async () => services?.close());

  const put = (key: string, value: string) =>
    services.kv.put({ key: text(key), value: text(value), lease: 0, prevKv: false, ignoreValue: false, ignoreLease: false });
  const watchOf = (key: string, startRevision = 0): WatchRequest => ({
    key: text(key),
    rangeEnd: new Uint8Array(),
    startRevision,
    prevKv: false,
    noPut: false,
    noDelete: false,
    progressNotify: false,
  });

  /** The revisions of the events a watch received, and a wait for the first update carrying `revision`. */
  function recorder(): {
    updates: WatchUpdate[];
    revisions: () => number[];
    until: (revision: number) => Promise<void>;
    deliver: (update: WatchUpdate) => void;
  } {
    const updates: WatchUpdate[] = [];
    const waiters: { revision: number; resolve: () => void }[] = [];
    const revisions = (): number[] => updates.flatMap((u) => (u.kind === "events" ? u.events.map((e: Event) => e.kv.modRevision) : []));
    return {
      updates,
      revisions,
      deliver(update) {
        updates.push(update);
        for (const waiter of waiters) if (revisions().includes(waiter.revision)) waiter.resolve();
      },
      until: (revision) => (revisions().includes(revision) ? Promise.resolve() : new Promise((resolve) => waiters.push({ revision, resolve }))),
    };
  }

  test("a put's answer comes before its event reaches the watch, and the event follows", async () => {
    const watched = recorder();
    const watch = await services.kv.watch(watchOf("answered-first"), watched.deliver);
    const answer = await put("answered-first", "1");
    assert.deepEqual(watched.revisions(), [], "the event waits for a later turn than the put's answer");
    await watched.until(answer.header.revision);
    assert.deepEqual(watched.revisions(), [answer.header.revision]);
    watch.cancel();
  });

  test("a progress header comes after every event up to its revision was handed out", async () => {
    const watched = recorder();
    const watch = await services.kv.watch(watchOf("progress"), watched.deliver);
    const answer = await put("progress", "1");
    assert.deepEqual(watched.revisions(), []);
    const header = services.kv.watchProgressHeader();
    assert.deepEqual(watched.revisions(), [answer.header.revision]);
    assert.ok(header.revision >= answer.header.revision);
    watch.cancel();
  });

  test("a watch started at a revision whose events are still pending gets them once, in order", async () => {
    const first = await put("pending", "1");
    const earlier = recorder();
    const earlierWatch = await services.kv.watch(watchOf("pending"), earlier.deliver);
    const second = await put("pending", "2");
    const late = recorder();
    const lateWatch = await services.kv.watch(watchOf("pending", first.header.revision), late.deliver);
    assert.deepEqual(earlier.revisions(), [], "the second put's event is still with the hub as the late watch starts");
    await earlier.until(second.header.revision);
    await late.until(second.header.revision);
    assert.deepEqual(late.revisions(), [first.header.revision, second.header.revision]);
    assert.deepEqual(earlier.revisions(), [second.header.revision]);
    earlierWatch.cancel();
    lateWatch.cancel();
  });

  test("watches sharing a delivery get each batch in one call for all of them, each from its own start, none after its cancel", async () => {
    const calls: { members: string[]; revisions: number[] }[] = [];
    const delivery: SharedDelivery<string> = {
      deliver: (members, count, _header, events) => calls.push({ members: members.slice(0, count), revisions: events.map((e) => e.kv.modRevision) }),
    };
    const own = recorder();
    const watchShared = (name: string, request: WatchRequest) => services.kv.watch({ ...request, shared: { delivery, member: name } }, own.deliver);
    const first = await put("shared", "0");
    const a = await watchShared("a", watchOf("shared"));
    const b = await watchShared("b", watchOf("shared"));
    const pending = await put("shared", "1");
    // Joins while the second put's event is still with the hub: it starts after it.
    const c = await watchShared("c", watchOf("shared"));
    // History from the first put: its own delivery until it is live, then the group's.
    const d = await watchShared("d", watchOf("shared", first.header.revision));
    // Another interest (no puts) is another group; a watch with progress notifications is one more member.
    const e = await watchShared("e", { ...watchOf("shared"), noPut: true });
    const f = await watchShared("f", { ...watchOf("shared"), progressNotify: true });
    await until(() => calls.some((call) => call.revisions.includes(pending.header.revision)));
    const last = await put("shared", "2");
    b.cancel();
    await until(() => calls.some((call) => call.revisions.includes(last.header.revision)));
    assert.deepEqual(calls, [
      { members: ["a", "b"], revisions: [pending.header.revision] },
      { members: ["a", "c", "d", "f"], revisions: [last.header.revision] },
    ]);
    assert.deepEqual(own.revisions(), [first.header.revision, pending.header.revision], "d's history alone");
    for (const watch of [a, c, d, e, f]) watch.cancel();
  });
  describe("progress notifications of watches sharing a delivery", () => {
    /**
     * What a stream of shared watches would send, in order: the delivery's
     * events, a call for all its members, and each watch's own progress.
     */
    function streamLog(): { log: string[]; delivery: SharedDelivery<string>; progressOf: (name: string) => (update: WatchUpdate) => void } {
      const log: string[] = [];
      return {
        log,
        delivery: {
          deliver: (members, count, _header, events) =>
            log.push(`events ${members.slice(0, count).join(",")} @${events.map((e) => e.kv.modRevision).join(",")}`),
        },
        progressOf: (name) => (update) => log.push(update.kind === "events" ? `own events ${name}` : `${update.kind} ${name} @${update.header.revision}`),
      };
    }

    /** The intervals' timers stand still until the test moves them (the hub's turns go on): no test waits 10 s. */
    const stillIntervals = (t: TestContext): void => t.mock.timers.enable({ apis: ["setInterval"] });
    const interval = (t: TestContext): void => t.mock.timers.tick(PROGRESS_EVERY_MS);

    test("members with and without notifications share each batch; each gets a progress for an interval without events, and none for one with", async (t) => {
      stillIntervals(t);
      const { log, delivery, progressOf } = streamLog();
      const watchShared = (name: string, progressNotify: boolean) =>
        services.kv.watch({ ...watchOf("notified"), progressNotify, shared: { delivery, member: name } }, progressOf(name));
      const watches = [await watchShared("a", true), await watchShared("b", false), await watchShared("c", true)];
      try {
        const busy = await put("notified", "1");
        await until(() => log.length > 0);
        interval(t);
        assert.deepEqual(log, [`events a,b,c @${busy.header.revision}`], "events in the interval: no progress");
        interval(t);
        const current = services.kv.header().revision;
        assert.deepEqual(log.slice(1), [`progress a @${current}`, `progress c @${current}`], "a quiet interval: a progress for each that asked");
      } finally {
        for (const watch of watches) watch.cancel();
      }
    });

    test("a member that joined after a batch was applied is quiet in that interval while the others are not", async (t) => {
      stillIntervals(t);
      const { log, delivery, progressOf } = streamLog();
      const watchShared = (name: string) =>
        services.kv.watch({ ...watchOf("joined-late"), progressNotify: true, shared: { delivery, member: name } }, progressOf(name));
      const early = await watchShared("early");
      const answer = await put("joined-late", "1");
      // Joins while the put's event is still with the hub: the event is not its.
      const late = await watchShared("late");
      try {
        await until(() => log.length > 0);
        interval(t);
        assert.deepEqual(log, [`events early @${answer.header.revision}`, `progress late @${services.kv.header().revision}`]);
      } finally {
        early.cancel();
        late.cancel();
      }
    });

    test("a progress due while a member's event is still with the hub comes after it: the event is handed out first and the member is not quiet", async (t) => {
      stillIntervals(t);
      const { log, delivery, progressOf } = streamLog();
      const watch = await services.kv.watch({ ...watchOf("pending-progress"), progressNotify: true, shared: { delivery, member: "a" } }, progressOf("a"));
      try {
        const answer = await put("pending-progress", "1");
        assert.deepEqual(log, [], "the event waits for a later turn");
        interval(t);
        assert.deepEqual(log, [`events a @${answer.header.revision}`], "handed out at the interval, with no progress after it");
        interval(t);
        assert.deepEqual(log.slice(1), [`progress a @${services.kv.header().revision}`]);
      } finally {
        watch.cancel();
      }
    });

    test("a canceled member gets no more progress", async (t) => {
      stillIntervals(t);
      const { log, delivery, progressOf } = streamLog();
      const watch = await services.kv.watch({ ...watchOf("canceled-progress"), progressNotify: true, shared: { delivery, member: "a" } }, progressOf("a"));
      interval(t);
      watch.cancel();
      interval(t);
      assert.deepEqual(log, [`progress a @${services.kv.header().revision}`]);
    });
  });
});
