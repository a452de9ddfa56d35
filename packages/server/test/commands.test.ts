/**
 * Log entries' command encoding: what a proposal carries into the Raft log,
 * where it stays for thousands of entries.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { Packr } from "msgpackr";
import { decodeCommand, encodeCommand } from "../src/commands.js";

test("an encoded command keeps no more than a slab alive, even after msgpackr's shared buffer has grown large", () => {
  // A large pack elsewhere in the process (a peer frame, a snapshot chunk) grows the buffer msgpackr shares.
  new Packr().pack({ frame: new Uint8Array(4 * 1024 * 1024) });
  const envelope = { requestId: "r1", command: { kind: "store", request: { op: "put", key: "k", value: "v" } } };
  const encoded = encodeCommand(envelope);
  assert.ok(encoded.buffer.byteLength <= 1024 * 1024, `a view of the shared buffer would keep ${encoded.buffer.byteLength} bytes alive`);
  assert.deepEqual(decodeCommand(encoded), envelope);
});

test("commands encoded one after another each decode to themselves once many have filled the slabs they are copied into", () => {
  const envelopes = Array.from({ length: 4_000 }, (_, i) => ({
    requestId: `r${i}`,
    command: { kind: "store", request: { op: "put", key: `key-${i}`, value: new Uint8Array(300).fill(i % 256) } },
  }));
  const encoded = envelopes.map((envelope) => encodeCommand(envelope));
  assert.ok(new Set(encoded.map((bytes) => bytes.buffer)).size > 1, "4,000 commands of 300 bytes fill more than one slab");
  assert.deepEqual(
    encoded.map((bytes) => decodeCommand(bytes)),
    envelopes,
  );
});

test("decoding a command leaves the entry's bytes as they were, with no property added", () => {
  const encoded = encodeCommand({ requestId: "r2", command: { kind: "store", request: { op: "put", key: new Uint8Array(16), value: new Uint8Array(256) } } });
  decodeCommand(encoded);
  // msgpackr caches a DataView on what it reads: on an entry of the Raft log, 120 bytes each for as long as the log keeps it.
  const added = Reflect.ownKeys(encoded).filter((key) => typeof key !== "string" || !/^\d+$/.test(key));
  assert.deepEqual(added, []);
});
