import assert from "node:assert/strict";
import { test } from "node:test";
import { Packr } from "msgpackr";
import type { KeyRevision } from "../src/key-index.js";
import { toKeyString } from "../src/keys.js";
import { decodeIndexEntry, EMPTY, encodeRevision, indexEntry, indexEntryKey } from "../src/layout.js";

/** A "k" record written as bytes and read back as open reads it: key and value decoded as UTF-8 text. */
function roundTrip(key: Uint8Array, revision: KeyRevision): ReturnType<typeof decodeIndexEntry> {
  const record = indexEntry(toKeyString(key), revision);
  return decodeIndexEntry(Buffer.from(record.key).toString("utf8"), Buffer.from(record.value).toString("utf8"));
}

test('a "k" record gives back its key and revision: binary keys, negative and large lease ids, revisions past 32 bits, tombstones', () => {
  const key = Uint8Array.of(0x00, 0x7f, 0x80, 0xff, 0x6b);
  const revisions: KeyRevision[] = [
    { main: 2, sub: 0, createRevision: 2, version: 1, lease: 0, tombstone: false },
    { main: 2 ** 40 + 3, sub: 5, createRevision: 2 ** 33, version: 2 ** 35 + 1, lease: -1, tombstone: false },
    { main: 9, sub: 1, createRevision: 7, version: 3, lease: -(2 ** 52), tombstone: false },
    { main: 9, sub: 2, createRevision: 7, version: 4, lease: 2 ** 53 - 1, tombstone: false },
    { main: 10, sub: 0, createRevision: 0, version: 0, lease: 0, tombstone: true },
  ];
  for (const revision of revisions) assert.deepEqual(roundTrip(key, revision), { key: toKeyString(key), revision });
  assert.equal(roundTrip(new Uint8Array(0), revisions[4]!).key, "");
});

test('"k" keys sort in revision order, as open reads them', () => {
  const at = (main: number, sub: number): KeyRevision => ({
    main,
    sub,
    createRevision: 1,
    version: 1,
    lease: main % 2 === 0 ? 0 : -7,
    tombstone: main % 3 === 0,
  });
  const inOrder = [at(2, 0), at(2, 1), at(9, 0), at(15, 0), at(16, 3), at(255, 0), at(256, 0), at(2 ** 32, 0), at(2 ** 40 + 1, 0)];
  const keys = inOrder.map((revision) => Buffer.from(indexEntryKey(revision)));
  assert.deepEqual([...keys].sort(Buffer.compare), keys);
});

test('a "k" key is the text the layout names: "k", main and sub, then create revision and version in 16 hex digits each, and the lease in decimal', () => {
  const hex = (value: number) => value.toString(16).padStart(16, "0");
  const revisions: KeyRevision[] = [
    { main: 2 ** 53 - 1, sub: 2 ** 32, createRevision: 2 ** 32 - 1, version: 0xabcdef, lease: -(2 ** 40), tombstone: false },
    { main: 0, sub: 0, createRevision: 0, version: 0, lease: 0, tombstone: false },
    { main: 2 ** 33 + 5, sub: 15, createRevision: 0, version: 0, lease: 0, tombstone: true },
  ];
  for (const { main, sub, createRevision, version, lease, tombstone } of revisions) {
    const expected = `k${hex(main)}${hex(sub)}${tombstone ? "" : `${hex(createRevision)}${hex(version)}${lease}`}`;
    assert.equal(Buffer.from(indexEntryKey({ main, sub, createRevision, version, lease, tombstone })).toString("latin1"), expected);
  }
});

test('an "r" value is the bytes msgpackr writes for [key, value, createRevision, version, lease] (or [key]), at every size and number width', () => {
  const packr = new Packr({ useRecords: false });
  const lengths = [0, 1, 255, 256, 65_535, 65_536, 70_000];
  const numbers = [0, 127, 128, 255, 256, 65_535, 65_536, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1, -1, -200, -(2 ** 40), 1.5];
  for (const length of lengths) {
    const bytes = new Uint8Array(length).fill(length % 251);
    for (const number of numbers) {
      const revision: KeyRevision = { main: 3, sub: 0, createRevision: number, version: 1, lease: number, tombstone: false };
      assert.deepEqual(
        Buffer.from(encodeRevision(bytes, revision, bytes)),
        Buffer.from(packr.pack([bytes, bytes, number, 1, number])),
        `${length} bytes, ${number}`,
      );
    }
    const tombstone: KeyRevision = { main: 4, sub: 0, createRevision: 0, version: 0, lease: 0, tombstone: true };
    assert.deepEqual(Buffer.from(encodeRevision(bytes, tombstone, EMPTY)), Buffer.from(packr.pack([bytes])));
  }
});
