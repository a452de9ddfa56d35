/** The native API's pure parts: JSON views of keys, Server-Sent Events framing, resuming, keep-alives. */
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, test } from "node:test";
import { kvEventMessages, nativeKv, serviceMessages } from "../src/http/native/views.js";
import { SSE_KEEP_ALIVE, formatSse, startRevisionOf, withKeepAlive, withRevisionIds } from "../src/http/sse.js";
import type { KeyValue } from "../src/kv/api.js";

const bytes = (text: string | Buffer): Uint8Array => new Uint8Array(Buffer.from(text));
const kv = (key: string, value: string | Buffer, revision: number): KeyValue => ({
  key: bytes(key),
  value: bytes(value),
  createRevision: 2,
  modRevision: revision,
  version: 3,
  lease: 0,
});

describe("key-values as JSON", () => {
  test("keys and values are UTF-8 text, or base64 for binary data", () => {
    const binary = kv("k", Buffer.from([0xff, 0x00]), 5);
    assert.deepEqual(nativeKv(kv("k", "héllo", 5), "utf8"), {
      key: "k",
      value: "héllo",
      create_revision: 2,
      mod_revision: 5,
      version: 3,
      lease: 0,
    });
    assert.equal(nativeKv(binary, "base64").value, "/wA=");
  });
});

describe("server-sent events", () => {
  test("a message is id, event and one line of JSON data, ended by a blank line", () => {
    assert.equal(formatSse({ id: 7, event: "put", data: { key: "a\nb" } }), 'id: 7\nevent: put\ndata: {"key":"a\\nb"}\n\n');
    assert.equal(formatSse({ event: "compacted", data: { compact_revision: 3 } }), 'event: compacted\ndata: {"compact_revision":3}\n\n');
  });

  test("only the last message of a revision carries the id, so a resumed client never skips half a txn", () => {
    const ids = withRevisionIds([
      { revision: 4, event: "put", data: 1 },
      { revision: 5, event: "put", data: 2 },
      { revision: 5, event: "delete", data: 3 },
      { revision: 6, event: "put", data: 4 },
    ]).map((message) => message.id);
    assert.deepEqual(ids, [4, undefined, 5, 6]);
  });

  test("watch events become put and delete messages, with the previous value when asked", () => {
    const events = [
      { type: "PUT" as const, kv: kv("a", "new", 9), prevKv: kv("a", "old", 8) },
      { type: "DELETE" as const, kv: kv("b", "", 9) },
    ];
    const [put, remove] = kvEventMessages(events, "utf8", true);
    assert.deepEqual(put, {
      event: "put",
      data: { key: "a", value: "new", mod_revision: 9, create_revision: 2, version: 3, lease: 0, prev_value: "old" },
    });
    assert.equal(remove?.event, "delete");
    assert.equal(remove?.id, 9);
    const [withoutPrevious] = kvEventMessages(events, "utf8", false);
    assert.equal(formatSse(withoutPrevious!).includes("prev_value"), false);
  });

  test("service changes become register and deregister messages", () => {
    const instance = { id: "i1", address: "10.0.0.1", port: 80, lease: 3 };
    const messages = serviceMessages([
      { kind: "register", revision: 4, instance },
      { kind: "deregister", revision: 6, id: "i0" },
    ]);
    assert.deepEqual(messages, [
      { id: 4, event: "register", data: instance },
      { id: 6, event: "deregister", data: { id: "i0" } },
    ]);
  });

  test("a resumed watch starts after the Last-Event-ID, else at the revision asked for, else now", () => {
    assert.equal(startRevisionOf("41", 3), 42);
    assert.equal(startRevisionOf(undefined, 3), 3);
    assert.equal(startRevisionOf(undefined, undefined), 0);
  });
});

describe("keep-alives", () => {
  async function* slowly(items: readonly string[], pauseMs: number): AsyncGenerator<string> {
    for (const item of items) {
      await sleep(pauseMs);
      yield item;
    }
  }

  test("a comment fills each quiet interval, and items pass through in order", async () => {
    const chunks: string[] = [];
    for await (const chunk of withKeepAlive(slowly(["a", "b"], 70), 30)) chunks.push(chunk);
    assert.deepEqual(
      chunks.filter((chunk) => chunk !== SSE_KEEP_ALIVE),
      ["a", "b"],
    );
    assert.ok(chunks.filter((chunk) => chunk === SSE_KEEP_ALIVE).length >= 2, `keep-alives in ${JSON.stringify(chunks)}`);
  });

  test("a busy source gets no keep-alives, and stopping early leaves no timer behind", async () => {
    const timers = (): number => process.getActiveResourcesInfo().filter((resource) => resource === "Timeout").length;
    const timersBefore = timers();
    const chunks: string[] = [];
    for await (const chunk of withKeepAlive(slowly(["a", "b", "c"], 0), 60_000)) {
      chunks.push(chunk);
      if (chunks.length === 2) break;
    }
    assert.deepEqual(chunks, ["a", "b"]);
    assert.equal(timers(), timersBefore);
  });
});
