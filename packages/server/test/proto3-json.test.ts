/** Bytes fields as the gateway reads them: base64 in either alphabet, padded or not, into a buffer of their own. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { decodeBytes } from "../src/http/etcd-gateway/proto3-json.js";

const BYTES = Uint8Array.from({ length: 40 }, (_, i) => (i * 37 + 250) % 256);

test("every length decodes from standard and URL-safe base64, padded or not, to a plain array of exactly its bytes", () => {
  for (let length = 0; length <= BYTES.length; length++) {
    const bytes = BYTES.subarray(0, length);
    const standard = Buffer.from(bytes).toString("base64");
    for (const text of [standard, standard.replace(/=+$/, ""), Buffer.from(bytes).toString("base64url")]) {
      const decoded = decodeBytes(text, "value");
      assert.deepEqual(decoded, Uint8Array.from(bytes), text);
      assert.equal(Buffer.isBuffer(decoded), false);
      // Its own memory, not a slice of Node's shared pool that a stored value would pin.
      assert.equal(decoded.buffer.byteLength, length);
    }
  }
});

test("absent bytes are empty, and anything but base64 is etcd's invalid argument naming the field", () => {
  assert.equal(decodeBytes(undefined, "key").byteLength, 0);
  assert.equal(decodeBytes(null, "key").byteLength, 0);
  for (const bad of ["not base64!", "QUJD=A", "Q===", "QUJDR", "QUJDR=", 7, {}, ["QQ=="]]) {
    assert.throws(() => decodeBytes(bad, "key"), { message: 'invalid base64 in field "key"' }, JSON.stringify(bad));
  }
});
