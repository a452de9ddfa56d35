/**
 * Log entries' command encoding: what a proposal carries into the Raft log,
 * where it stays for thousands of entries.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { Packr } from "msgpackr";
import { decodeCommand, encodeCommand } from "../src/commands.js";

test("an encoded command owns exactly its bytes, even after msgpackr's shared buffer has grown large", () => {
  // A large pack elsewhere in the process (a peer frame, a snapshot chunk) grows the buffer msgpackr shares.
  new Packr().pack({ frame: new Uint8Array(4 * 1024 * 1024) });
  const envelope = { requestId: "r1", command: { kind: "store", request: { op: "put", key: "k", value: "v" } } };
  const encoded = encodeCommand(envelope);
  assert.equal(encoded.buffer.byteLength, encoded.byteLength, "a view of the shared buffer would keep megabytes alive");
  assert.deepEqual(decodeCommand(encoded), envelope);
});

test("decoding a command leaves the entry's bytes as they were, with no property added", () => {
  const encoded = encodeCommand({ requestId: "r2", command: { kind: "store", request: { op: "put", key: new Uint8Array(16), value: new Uint8Array(256) } } });
  decodeCommand(encoded);
  // msgpackr caches a DataView on what it reads: on an entry of the Raft log, 120 bytes each for as long as the log keeps it.
  const added = Reflect.ownKeys(encoded).filter((key) => typeof key !== "string" || !/^\d+$/.test(key));
  assert.deepEqual(added, []);
});
