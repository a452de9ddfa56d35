import assert from "node:assert/strict";
import { test } from "node:test";
import type { KeyRevision } from "../src/key-index.js";
import { toKeyString } from "../src/keys.js";
import { decodeIndexEntry, encodeIndexEntry } from "../src/layout.js";

test('a "k" record gives back its key and revision: binary keys, negative and large lease ids, revisions past 32 bits, tombstones', () => {
  const key = Uint8Array.of(0x00, 0x7f, 0x80, 0xff, 0x6b);
  const revisions: KeyRevision[] = [
    { main: 2, sub: 0, createRevision: 2, version: 1, lease: 0, tombstone: false },
    { main: 2 ** 40 + 3, sub: 5, createRevision: 2 ** 33, version: 2 ** 35 + 1, lease: -1, tombstone: false },
    { main: 9, sub: 1, createRevision: 7, version: 3, lease: -(2 ** 52), tombstone: false },
    { main: 9, sub: 2, createRevision: 7, version: 4, lease: 2 ** 53 - 1, tombstone: false },
    { main: 10, sub: 0, createRevision: 0, version: 0, lease: 0, tombstone: true },
  ];
  for (const revision of revisions) {
    assert.deepEqual(decodeIndexEntry(encodeIndexEntry(key, revision)), { key: toKeyString(key), revision });
  }
  assert.deepEqual(decodeIndexEntry(encodeIndexEntry(new Uint8Array(0), revisions[4]!)).key, "");
});
