/**
 * How a watch response is split for a watch created with `fragment`, as a
 * table: sizes come from a stand-in measure that adds up as protobuf's
 * does (each event's `bytes`, one byte for the watch id and one for the
 * fragment flag, nothing for a field not set), so that the limits are easy
 * to read.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { fragmentsOf } from "../src/grpc/watch-stream.js";

type Sized = { readonly name: string; readonly bytes: number };

const sizeOf = (message: { watch_id?: unknown; events?: readonly unknown[]; fragment?: unknown }): number =>
  (message.watch_id === undefined ? 0 : 1) +
  (message.fragment ? 1 : 0) +
  (message.events ?? []).reduce((sum: number, event) => sum + (event as Sized).bytes, 0);

const events = (...bytes: number[]): Sized[] => bytes.map((size, i) => ({ name: String.fromCharCode(97 + i), bytes: size }));

// biome-ignore format: a table, one case a row
const CASES: { name: string; events: Sized[]; limit: number; parts: [string, boolean][] }[] = [
  { name: "under the limit: one message, not marked", events: events(3, 3), limit: 8, parts: [["ab", false]] },
  { name: "one event, however large: one message", events: events(50), limit: 8, parts: [["a", false]] },
  { name: "at the limit: split, as etcd splits at it", events: events(3, 4), limit: 8, parts: [["a", true], ["b", false]] },
  { name: "as many events as stay under the limit", events: events(5, 5, 5), limit: 13, parts: [["ab", true], ["c", false]] },
  { name: "a part that reaches the limit ends before it", events: events(5, 5, 5), limit: 12, parts: [["a", true], ["b", true], ["c", false]] },
  { name: "an event over the limit goes alone", events: events(2, 20, 2), limit: 10, parts: [["a", true], ["b", true], ["c", false]] },
];

for (const { name, events: all, limit, parts } of CASES) {
  test(`fragments: ${name}`, () => {
    const message: { watch_id: number; events: Sized[]; fragment?: boolean } = { watch_id: 7, events: all };
    const split = fragmentsOf(message, limit, sizeOf).map((part) => {
      assert.equal(part.watch_id, 7, "every part names the watch");
      return [(part.events as Sized[]).map((event) => event.name).join(""), part.fragment === true] as [string, boolean];
    });
    assert.deepEqual(split, parts);
  });
}
