import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { prefixRangeEnd, type WatchEvent } from "../src/index.js";
import { bytes, Harness, kvText, text } from "./support/harness.js";

const summary = (events: readonly WatchEvent[]): string[] =>
  events.map((event) => `${event.type} ${text(event.kv.key)}@${event.kv.modRevision}${event.prevKv ? ` prev=${text(event.prevKv.value)}` : ""}`);

describe("events", () => {
  let h: Harness;
  before(async () => {
    h = await Harness.open();
    await h.put("a/1", "one"); // 2
    await h.put("b/1", "x"); // 3
    await h.put("a/1", "two"); // 4
    await h.ok({
      op: "txn",
      success: [
        { op: "put", key: bytes("a/2"), value: bytes("y") },
        { op: "deleteRange", key: bytes("a/1") },
      ],
    }); // 5
  });
  after(() => h.close());

  test("apply returns the events of the request, with prevKv", async () => {
    const { events } = await h.ok({ op: "put", key: bytes("a/2"), value: bytes("z") });
    assert.deepEqual(summary(events), ["PUT a/2@6 prev=y"]);
    assert.deepEqual(kvText(events[0]!.kv), { key: "a/2", value: "z", create: 5, mod: 6, version: 2, lease: 0 });
  });

  test("a DELETE event's kv holds only the key and the deletion revision", () => {
    const deletion = h.store.eventsSince(5).events.find((event) => event.type === "DELETE")!;
    assert.deepEqual(kvText(deletion.kv), { key: "a/1", value: "", create: 0, mod: 5, version: 0, lease: 0 });
  });

  test("eventsSince replays history in revision order, filtered by range", () => {
    const page = h.store.eventsSince(1, { key: bytes("a/"), rangeEnd: prefixRangeEnd(bytes("a/")) });
    assert.deepEqual(summary(page.events), ["PUT a/1@2", "PUT a/1@4 prev=one", "PUT a/2@5", "DELETE a/1@5 prev=two", "PUT a/2@6 prev=y"]);
    assert.deepEqual([page.nextRevision, page.caughtUp], [7, true]);
  });

  test("pages never split a revision", () => {
    const first = h.store.eventsSince(2, undefined, 3);
    assert.deepEqual(summary(first.events), ["PUT a/1@2", "PUT b/1@3", "PUT a/1@4 prev=one"]);
    assert.deepEqual([first.nextRevision, first.caughtUp], [5, false]);
    const second = h.store.eventsSince(first.nextRevision, undefined, 1);
    assert.deepEqual(summary(second.events), ["PUT a/2@5", "DELETE a/1@5 prev=two"]);
    assert.equal(second.nextRevision, 6);
  });

  test("a start in the future yields nothing and waits there", () => {
    assert.deepEqual(h.store.eventsSince(50), { events: [], nextRevision: 50, caughtUp: true });
  });

  test("events may leave out previous key-values; a request that asks, or ignores its value, still gets the old one", async () => {
    const put = await h.ok({ op: "put", key: bytes("a/2"), value: bytes("w"), prevKv: true }, false);
    assert.deepEqual([summary(put.events), text(put.prevKv!.value)], [["PUT a/2@7"], "z"]);
    const kept = await h.ok({ op: "put", key: bytes("a/2"), ignoreValue: true }, false);
    assert.deepEqual(summary(kept.events), ["PUT a/2@8"]);
    assert.equal(text(kept.events[0]!.kv.value), "w");
    const deleted = await h.ok({ op: "deleteRange", key: bytes("a/2"), prevKv: true }, false);
    assert.deepEqual([summary(deleted.events), deleted.prevKvs.map((kv) => text(kv.value))], [["DELETE a/2@9"], ["w"]]);
    // History is read from the store, where the previous values are.
    assert.deepEqual(summary(h.store.eventsSince(7).events), ["PUT a/2@7 prev=z", "PUT a/2@8 prev=w", "DELETE a/2@9 prev=w"]);
  });
});
