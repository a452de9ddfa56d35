import assert from "node:assert/strict";
import { test } from "node:test";
import { prefixEnd } from "../src/bytes.js";
import { EndpointPool, normalizeUrl } from "../src/endpoints.js";

const A = "http://a:1";
const B = "http://b:2";
const C = "http://c:3";

test("members are asked from the pinned one on; a failed one rests behind the healthy ones", () => {
  const pool = new EndpointPool([A, B, C]);
  assert.deepEqual(pool.order(0), [A, B, C]);
  pool.failed(A, 0);
  assert.deepEqual(pool.order(1), [B, C, A]);
  pool.succeeded(B);
  assert.deepEqual(pool.order(1), [B, C, A], "the member that answered is pinned");
  assert.deepEqual(pool.order(10_000), [B, C, A], "once rested, A is healthy again but B stays pinned");
});

test("rest grows with consecutive failures, up to a cap, and resting members go soonest-rested first", () => {
  const pool = new EndpointPool([A, B]);
  pool.failed(A, 0); // rests 250 ms
  pool.failed(A, 0); // 500 ms
  pool.failed(B, 0); // 250 ms
  assert.deepEqual(pool.order(100), [B, A]);
  assert.deepEqual(pool.order(300), [B, A], "B rested, A still resting");
  assert.deepEqual(pool.order(600), [A, B]);
  for (let i = 0; i < 20; i++) pool.failed(A, 0);
  assert.deepEqual(pool.order(5_001), [A, B], "the rest is capped at 5 s");
});

test("endpoints are normalized and checked", () => {
  assert.equal(normalizeUrl("127.0.0.1:2379"), "http://127.0.0.1:2379");
  assert.equal(normalizeUrl("http://127.0.0.1:2379/"), "http://127.0.0.1:2379");
  assert.throws(() => normalizeUrl("ftp://x"), /only http and https/);
  assert.throws(() => new EndpointPool([]), /at least one endpoint/);
});

test("prefixEnd increments the last byte below 0xff, and an all-0xff prefix means every key", () => {
  assert.deepEqual([...prefixEnd("abc")], [...Buffer.from("abd")]);
  assert.deepEqual([...prefixEnd(Buffer.from([0x61, 0xff, 0xff]))], [0x62]);
  assert.deepEqual([...prefixEnd(Buffer.from([0xff]))], [0]);
  assert.deepEqual([...prefixEnd("")], [0]);
});
