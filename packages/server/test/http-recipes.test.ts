/** The recipes' pure parts: the queue order behind locks and elections, following a leader, service records. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { RaftkvError } from "../src/errors.js";
import type { Event, KeyValue } from "../src/kv/api.js";
import { leaderChange } from "../src/recipes/election.js";
import { prefixEnd } from "../src/recipes/kv.js";
import { contenderKey, queueAheadOf, queueHead, queuePrefix, turnOf } from "../src/recipes/queue.js";
import { instanceOf, parseRegistration, serviceChangeOf } from "../src/recipes/services.js";

const bytes = (text: string): Uint8Array => new Uint8Array(Buffer.from(text));
const text = (value: Uint8Array): string => Buffer.from(value).toString();
const kv = (key: string, createRevision: number, fields: Partial<KeyValue> = {}): KeyValue => ({
  key: bytes(key),
  value: new Uint8Array(),
  createRevision,
  modRevision: createRevision,
  version: 1,
  lease: 0,
  ...fields,
});

describe("keys", () => {
  test("a prefix's range end increments its last byte below 0xff", () => {
    assert.deepEqual(prefixEnd(bytes("a/")), bytes("a0"));
    assert.deepEqual(prefixEnd(new Uint8Array([0x61, 0xff, 0xff])), bytes("b"));
    assert.deepEqual(prefixEnd(new Uint8Array([0xff])), new Uint8Array([0]));
    assert.deepEqual(prefixEnd(new Uint8Array()), new Uint8Array([0]));
  });

  test("a contender's key is the name, a slash, and its lease in hex, as etcd's recipes make it", () => {
    assert.equal(text(contenderKey(queuePrefix(bytes("jobs")), 0x694d77ab12cd)), "jobs/694d77ab12cd");
  });
});

describe("the queue", () => {
  const prefix = queuePrefix(bytes("jobs"));
  const own = { key: bytes("jobs/c"), createRevision: 12 };

  test("the head is the oldest contender; the wait reads the two newest at or before one's own", () => {
    const head = queueHead(prefix);
    assert.deepEqual([head.sortTarget, head.sortOrder, head.limit], ["CREATE", "ASCEND", 1]);
    const ahead = queueAheadOf(prefix, 12);
    assert.deepEqual([ahead.sortTarget, ahead.sortOrder, ahead.limit, ahead.maxCreateRevision], ["CREATE", "DESCEND", 2, 12]);
    assert.deepEqual(ahead.rangeEnd, prefixEnd(prefix));
  });

  test("alone at or before its revision, a contender holds", () => {
    assert.deepEqual(turnOf([kv("jobs/c", 12)], own), { kind: "held" });
  });

  test("with someone ahead, it waits for the one just ahead, not the head", () => {
    const justAhead = kv("jobs/b", 9);
    assert.deepEqual(turnOf([kv("jobs/c", 12), justAhead], own), { kind: "wait", predecessor: justAhead });
  });

  test("if its own key is gone (lease expired, or deleted), it has lost its place", () => {
    assert.deepEqual(turnOf([], own), { kind: "lost" });
    assert.deepEqual(turnOf([kv("jobs/b", 9)], own), { kind: "lost" });
    assert.deepEqual(turnOf([kv("jobs/c", 15)], own), { kind: "lost" }, "recreated under the same key: a different contender");
  });
});

describe("following the leader", () => {
  const leader = kv("e/1", 5, { value: bytes("one") });
  const put = (key: string, createRevision: number, value: string): Event => ({
    type: "PUT",
    kv: kv(key, createRevision, { value: bytes(value), modRevision: 20 }),
  });
  const remove = (key: string): Event => ({ type: "DELETE", kv: kv(key, 0) });

  test("a new candidate queues behind the leader: nothing changes", () => {
    assert.deepEqual(leaderChange(leader, [put("e/2", 20, "two"), remove("e/3")]), { kind: "unchanged" });
  });

  test("a write to the leader's key is a proclamation; the last one counts", () => {
    const last = put("e/1", 5, "uno");
    assert.deepEqual(leaderChange(leader, [put("e/1", 5, "eins"), last]), { kind: "proclaimed", kv: last.kv });
  });

  test("the leader leaving, or any change while there is no leader, calls for reading the head again", () => {
    assert.deepEqual(leaderChange(leader, [put("e/1", 5, "uno"), remove("e/1")]), { kind: "reread" });
    assert.deepEqual(leaderChange(undefined, [put("e/2", 20, "two")]), { kind: "reread" });
  });
});

describe("service records", () => {
  const registration = (json: unknown): ReturnType<typeof parseRegistration> => parseRegistration(bytes(JSON.stringify(json)));

  test("a registration needs an address; the id is generated and the TTL defaulted when absent", () => {
    const parsed = registration({ address: "10.0.0.1", port: 8080, meta: { zone: "a" } });
    assert.equal(parsed.address, "10.0.0.1");
    assert.equal(parsed.port, 8080);
    assert.deepEqual(parsed.meta, { zone: "a" });
    assert.equal(parsed.ttl, 10);
    assert.match(parsed.id, /^[0-9a-f-]{36}$/);
    assert.equal(registration({ id: "web-1", address: "h", ttl: 3 }).id, "web-1");
  });

  test("malformed registrations are refused with a reason", () => {
    const refusals: [unknown, RegExp][] = [
      [{ port: 80 }, /address/],
      [{ address: "h", id: "a/b" }, /id/],
      [{ address: "h", port: 70000 }, /port/],
      [{ address: "h", ttl: 0 }, /ttl/],
      [{ address: "h", meta: ["x"] }, /meta/],
      [{ address: "h", tags: "primary" }, /tags/],
      [{ address: "h", tags: ["primary", ""] }, /tags/],
      [["h"], /JSON object/],
    ];
    for (const [json, reason] of refusals)
      assert.throws(
        () => registration(json),
        (error: unknown) => error instanceof RaftkvError && reason.test(error.message),
      );
    assert.throws(() => parseRegistration(bytes("{nope")), /invalid JSON/);
  });

  test("an instance is read back from its key and value, with its lease; foreign values are skipped", () => {
    const value = bytes(JSON.stringify({ id: "web-1", address: "h", port: 80 }));
    assert.deepEqual(instanceOf(kv("services/web/web-1", 3, { value, lease: 7 })), {
      id: "web-1",
      address: "h",
      port: 80,
      tags: undefined,
      meta: undefined,
      lease: 7,
    });
    const tagged = bytes(JSON.stringify({ address: "h", tags: ["primary", "eu"] }));
    assert.deepEqual(instanceOf(kv("services/web/web-2", 3, { value: tagged }))?.tags, ["primary", "eu"]);
    assert.equal(instanceOf(kv("services/web/x", 3, { value: bytes("not json") })), undefined);
  });

  test("watch events become registrations and deregistrations", () => {
    const value = bytes(JSON.stringify({ address: "h" }));
    assert.deepEqual(serviceChangeOf({ type: "DELETE", kv: kv("services/web/web-1", 0, { modRevision: 9 }) }), {
      kind: "deregister",
      revision: 9,
      id: "web-1",
    });
    assert.equal(serviceChangeOf({ type: "PUT", kv: kv("services/web/web-2", 9, { value }) })?.kind, "register");
  });
});
