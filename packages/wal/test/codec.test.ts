/** Record frames: every record decodes to itself, and any damaged byte is caught. */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { EntryType, type SnapshotMeta } from "@raftkv/raft";
import { RecordType, decodeFrame, encodeRecords, type WalRecord } from "../src/codec.js";

const u64 = fc.maxSafeNat();
const snapshot: fc.Arbitrary<SnapshotMeta> = fc.record({
  index: u64,
  term: u64,
  conf: fc.record({ voters: fc.array(u64, { maxLength: 5 }), learners: fc.array(u64, { maxLength: 3 }) }),
});
const hardState = fc.record({ term: u64, vote: u64, commit: u64 });

const record: fc.Arbitrary<WalRecord> = fc.oneof(
  fc.record({
    type: fc.constant(RecordType.Entry as const),
    entry: fc.record({ term: u64, index: u64, type: fc.constantFrom(EntryType.Normal, EntryType.ConfChange), data: fc.uint8Array({ maxLength: 64 }) }),
  }),
  fc.record({ type: fc.constant(RecordType.HardState as const), hardState }),
  fc.record({ type: fc.constant(RecordType.SnapshotTaken as const), snapshot }),
  fc.record({ type: fc.constant(RecordType.SnapshotInstalled as const), snapshot }),
  fc.record({
    type: fc.constant(RecordType.SegmentHeader as const),
    header: fc.record({ seq: u64, position: fc.record({ hardState, snapshot: fc.option(snapshot, { nil: undefined }), lastIndex: u64 }) }),
  }),
);

/** Plain objects, entry data as bytes: decoding yields Buffers, fast-check some null-prototype objects. */
function comparable(value: WalRecord): unknown {
  if (value.type !== RecordType.Entry) return structuredClone(value);
  return structuredClone({ ...value, entry: { ...value.entry, data: Buffer.from(value.entry.data).toString("hex") } });
}

test("every record decodes to itself, back to back", () => {
  fc.assert(
    fc.property(fc.array(record, { minLength: 1, maxLength: 5 }), (records) => {
      const bytes = encodeRecords(records);
      let offset = 0;
      for (const expected of records) {
        const frame = decodeFrame(bytes, offset);
        assert.ok(frame.ok, frame.ok ? "" : frame.damage);
        assert.deepEqual(comparable(frame.record), comparable(expected));
        offset = frame.end;
      }
      assert.equal(offset, bytes.length);
    }),
  );
});

test("a frame with any one byte changed does not decode", () => {
  fc.assert(
    fc.property(record, fc.nat(), fc.integer({ min: 1, max: 255 }), (original, position, xor) => {
      const bytes = encodeRecords([original]);
      const at = position % bytes.length;
      bytes[at] = (bytes[at] as number) ^ xor;
      assert.equal(decodeFrame(bytes, 0).ok, false);
    }),
  );
});

test("numbers beyond the safe integer range are refused when encoding", () => {
  const entry = { term: 1, index: Number.MAX_SAFE_INTEGER + 1, type: EntryType.Normal, data: new Uint8Array() };
  assert.throws(() => encodeRecords([{ type: RecordType.Entry, entry }]), RangeError);
});
