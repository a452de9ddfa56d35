/** The pure parts: backoff delays, the bounded queue, frame splitting. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { backoffDelay } from "../src/backoff.js";
import { BoundedQueue } from "../src/bounded-queue.js";
import { FrameReader, ProtocolError, frameHeader } from "../src/frames.js";
import { SlabCopier } from "../src/slab-copies.js";

describe("backoff", () => {
  const policy = { initialMs: 25, maxMs: 1000 };

  test("the ceiling doubles per attempt up to the cap, and the delay is in its upper half", () => {
    const ceilings = [25, 50, 100, 200, 400, 800, 1000, 1000];
    ceilings.forEach((ceiling, attempt) => {
      assert.equal(
        backoffDelay(attempt, policy, () => 0),
        ceiling / 2,
        `lowest delay of attempt ${attempt}`,
      );
      assert.equal(
        backoffDelay(attempt, policy, () => 1),
        ceiling,
        `highest delay of attempt ${attempt}`,
      );
    });
  });

  test("a huge attempt number stays at the cap", () => {
    assert.equal(
      backoffDelay(10_000, policy, () => 1),
      1000,
    );
  });
});

describe("bounded queue", () => {
  test("keeps the newest items, reports each drop, drains oldest first", () => {
    const queue = new BoundedQueue<number>(3);
    assert.deepEqual(
      [1, 2, 3, 4, 5].map((n) => queue.push(n)),
      [false, false, false, true, true],
    );
    assert.equal(queue.length, 3);
    assert.deepEqual(queue.drain(), [3, 4, 5]);
    assert.equal(queue.length, 0);
    queue.push(6);
    assert.deepEqual(queue.drain(), [6]);
  });

  test("refuses a capacity that is not a positive integer", () => {
    for (const capacity of [0, -1, 1.5]) assert.throws(() => new BoundedQueue(capacity), RangeError);
  });
});

describe("frame reader", () => {
  const frame = (body: number[]): Buffer => Buffer.concat([frameHeader(body.length), Buffer.from(body)]);
  const bodies = [[1], [], [2, 3, 4, 5, 6], Array.from({ length: 1000 }, (_, i) => i % 256)];
  const stream = Buffer.concat(bodies.map(frame));

  test("finds the same frames however the stream is cut", () => {
    for (const cut of [1, 2, 3, 5, 7, 64, stream.length]) {
      const reader = new FrameReader(10_000);
      const found: number[][] = [];
      for (let at = 0; at < stream.length; at += cut) {
        for (const body of reader.push(stream.subarray(at, at + cut))) found.push([...body]);
      }
      assert.deepEqual(found, bodies, `cut every ${cut} bytes`);
    }
  });

  test("refuses a frame over the limit as soon as its header is in", () => {
    const reader = new FrameReader(999);
    assert.throws(() => reader.push(frameHeader(1000)), ProtocolError);
  });
});

describe("slab copies", () => {
  test("copies share a slab until it is full, keep their own bytes, and a large one gets a buffer of its own", () => {
    const copier = new SlabCopier(1024, 128);
    const sources = Array.from({ length: 30 }, (_, i) => new Uint8Array(100).fill(i));
    const copies = sources.map((bytes) => copier.copy(bytes));
    assert.equal(copies[9]!.buffer, copies[0]!.buffer, "ten copies of 100 bytes fit in a slab of 1,024");
    assert.notEqual(copies[10]!.buffer, copies[0]!.buffer, "the eleventh starts a new slab");
    assert.ok(copies.every((copy) => copy.buffer.byteLength === 1024));
    assert.deepEqual(copies, sources);
    const large = copier.copy(new Uint8Array(129).fill(7));
    assert.equal(large.buffer.byteLength, 129);
    assert.deepEqual(large, new Uint8Array(129).fill(7));
  });
});
