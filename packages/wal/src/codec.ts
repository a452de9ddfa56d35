/**
 * The record format. Every record is one frame:
 *
 *   crc32 u32 | payload length u32 | type u8 | payload
 *
 * all little-endian, the CRC-32 (zlib's) covering length, type and payload,
 * so that a damaged length is caught like damaged data. Integers in payloads
 * are u64 (written as two u32 halves, limited to safe JavaScript integers).
 */
import { crc32 } from "node:zlib";
import type { ConfState, Entry, HardState, NodeId, SnapshotMeta } from "@raftkv/raft";
import { EntryType } from "@raftkv/raft";
import type { WalPosition } from "./position.js";

export enum RecordType {
  /** First record of every segment: its sequence number and the position before it. */
  SegmentHeader = 1,
  /** One raft entry; an index at or below the last one replaces the suffix from there. */
  Entry = 2,
  HardState = 3,
  /** A snapshot of the local state machine: entries up to it are covered, later ones kept. */
  SnapshotTaken = 4,
  /** A snapshot received from the leader: it replaces the whole log. */
  SnapshotInstalled = 5,
}

export interface SegmentHeader {
  readonly seq: number;
  /** The log's position when the segment was created. */
  readonly position: WalPosition;
}

export type WalRecord =
  | { readonly type: RecordType.SegmentHeader; readonly header: SegmentHeader }
  | { readonly type: RecordType.Entry; readonly entry: Entry }
  | { readonly type: RecordType.HardState; readonly hardState: HardState }
  | { readonly type: RecordType.SnapshotTaken; readonly snapshot: SnapshotMeta }
  | { readonly type: RecordType.SnapshotInstalled; readonly snapshot: SnapshotMeta };

export const FRAME_HEADER_BYTES = 9;
const FORMAT_VERSION = 1;
const U64_BYTES = 8;
const HARD_STATE_BYTES = 3 * U64_BYTES;
const ENTRY_FIXED_BYTES = 2 * U64_BYTES + 1;

/** Encodes records back to back in one buffer, ready for a single write. */
export function encodeRecords(records: readonly WalRecord[]): Buffer {
  const size = records.reduce((total, record) => total + FRAME_HEADER_BYTES + payloadSize(record), 0);
  const writer = new ByteWriter(Buffer.allocUnsafe(size));
  for (const record of records) writeFrame(writer, record);
  return writer.buffer;
}

export type DecodedFrame = { readonly ok: true; readonly record: WalRecord; readonly end: number } | { readonly ok: false; readonly damage: string };

/** Decodes the frame starting at `offset`, or says why there is no valid one. */
export function decodeFrame(bytes: Buffer, offset: number): DecodedFrame {
  if (bytes.length - offset < FRAME_HEADER_BYTES) return damaged("frame header cut short");
  const length = bytes.readUInt32LE(offset + 4);
  const type = bytes[offset + 8] as number;
  if (!isRecordType(type)) return damaged(`unknown record type ${type}`);
  const end = offset + FRAME_HEADER_BYTES + length;
  if (end > bytes.length) return damaged(`record of ${length} bytes runs past the end of the file`);
  if (crc32(bytes.subarray(offset + 4, end)) !== bytes.readUInt32LE(offset)) return damaged("checksum mismatch");
  try {
    const reader = new ByteReader(bytes, offset + FRAME_HEADER_BYTES, end);
    const record = readPayload(reader, type);
    reader.expectEnd();
    return { ok: true, record, end };
  } catch (error) {
    if (error instanceof MalformedPayload) return damaged(error.message);
    throw error;
  }
}

function damaged(damage: string): DecodedFrame {
  return { ok: false, damage };
}

function isRecordType(type: number): type is RecordType {
  return RecordType[type] !== undefined;
}

function payloadSize(record: WalRecord): number {
  switch (record.type) {
    case RecordType.SegmentHeader:
      return 1 + 2 * U64_BYTES + HARD_STATE_BYTES + 1 + (record.header.position.snapshot ? snapshotSize(record.header.position.snapshot) : 0);
    case RecordType.Entry:
      return ENTRY_FIXED_BYTES + record.entry.data.byteLength;
    case RecordType.HardState:
      return HARD_STATE_BYTES;
    case RecordType.SnapshotTaken:
    case RecordType.SnapshotInstalled:
      return snapshotSize(record.snapshot);
  }
}

function snapshotSize(snapshot: SnapshotMeta): number {
  return 2 * U64_BYTES + 4 + U64_BYTES * snapshot.conf.voters.length + 4 + U64_BYTES * snapshot.conf.learners.length;
}

function writeFrame(writer: ByteWriter, record: WalRecord): void {
  const start = writer.offset;
  writer.u32(0); // the checksum, filled in once the frame is complete
  writer.u32(payloadSize(record));
  writer.u8(record.type);
  writePayload(writer, record);
  writer.buffer.writeUInt32LE(crc32(writer.buffer.subarray(start + 4, writer.offset)), start);
}

function writePayload(writer: ByteWriter, record: WalRecord): void {
  switch (record.type) {
    case RecordType.SegmentHeader:
      return writeHeader(writer, record.header);
    case RecordType.Entry:
      return writeEntry(writer, record.entry);
    case RecordType.HardState:
      return writeHardState(writer, record.hardState);
    case RecordType.SnapshotTaken:
    case RecordType.SnapshotInstalled:
      return writeSnapshot(writer, record.snapshot);
  }
}

function readPayload(reader: ByteReader, type: RecordType): WalRecord {
  switch (type) {
    case RecordType.SegmentHeader:
      return { type, header: readHeader(reader) };
    case RecordType.Entry:
      return { type, entry: readEntry(reader) };
    case RecordType.HardState:
      return { type, hardState: readHardState(reader) };
    case RecordType.SnapshotTaken:
    case RecordType.SnapshotInstalled:
      return { type, snapshot: readSnapshot(reader) };
  }
}

function writeHeader(writer: ByteWriter, header: SegmentHeader): void {
  const { hardState, snapshot, lastIndex } = header.position;
  writer.u8(FORMAT_VERSION);
  writer.u64(header.seq);
  writer.u64(lastIndex);
  writeHardState(writer, hardState);
  writer.u8(snapshot ? 1 : 0);
  if (snapshot) writeSnapshot(writer, snapshot);
}

function readHeader(reader: ByteReader): SegmentHeader {
  const version = reader.u8();
  if (version !== FORMAT_VERSION) throw new MalformedPayload(`unsupported format version ${version}`);
  const seq = reader.u64();
  const lastIndex = reader.u64();
  const hardState = readHardState(reader);
  const snapshot = reader.u8() === 1 ? readSnapshot(reader) : undefined;
  return { seq, position: { hardState, snapshot, lastIndex } };
}

function writeEntry(writer: ByteWriter, entry: Entry): void {
  writer.u64(entry.term);
  writer.u64(entry.index);
  writer.u8(entry.type);
  writer.bytes(entry.data);
}

function readEntry(reader: ByteReader): Entry {
  const term = reader.u64();
  const index = reader.u64();
  const type = reader.u8();
  if (EntryType[type] === undefined) throw new MalformedPayload(`unknown entry type ${type}`);
  // A copy, so that recovered entries do not pin the whole segment in memory.
  return { term, index, type: type as EntryType, data: reader.rest().slice() };
}

function writeHardState(writer: ByteWriter, hardState: HardState): void {
  writer.u64(hardState.term);
  writer.u64(hardState.vote);
  writer.u64(hardState.commit);
}

function readHardState(reader: ByteReader): HardState {
  return { term: reader.u64(), vote: reader.u64(), commit: reader.u64() };
}

function writeSnapshot(writer: ByteWriter, snapshot: SnapshotMeta): void {
  writer.u64(snapshot.index);
  writer.u64(snapshot.term);
  writeNodeIds(writer, snapshot.conf.voters);
  writeNodeIds(writer, snapshot.conf.learners);
}

function readSnapshot(reader: ByteReader): SnapshotMeta {
  const index = reader.u64();
  const term = reader.u64();
  const conf: ConfState = { voters: readNodeIds(reader), learners: readNodeIds(reader) };
  return { index, term, conf };
}

function writeNodeIds(writer: ByteWriter, ids: readonly NodeId[]): void {
  writer.u32(ids.length);
  for (const id of ids) writer.u64(id);
}

function readNodeIds(reader: ByteReader): NodeId[] {
  const count = reader.u32();
  if (count * U64_BYTES > reader.remaining()) throw new MalformedPayload(`${count} node ids do not fit in the payload`);
  return Array.from({ length: count }, () => reader.u64());
}

const TWO_TO_32 = 0x1_0000_0000;

class ByteWriter {
  offset = 0;

  constructor(readonly buffer: Buffer) {}

  u8(value: number): void {
    if (!Number.isInteger(value) || value < 0 || value > 0xff) throw new RangeError(`wal: ${value} does not fit in a byte`);
    this.buffer[this.offset++] = value;
  }

  u32(value: number): void {
    this.offset = this.buffer.writeUInt32LE(value, this.offset);
  }

  u64(value: number): void {
    if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`wal: ${value} is not a non-negative safe integer`);
    this.u32(value % TWO_TO_32);
    this.u32(Math.floor(value / TWO_TO_32));
  }

  bytes(data: Uint8Array): void {
    this.buffer.set(data, this.offset);
    this.offset += data.byteLength;
  }
}

/** A checksummed payload that still does not parse: a bug or a forged frame. */
class MalformedPayload extends Error {}

class ByteReader {
  constructor(
    private readonly bytes: Buffer,
    private offset: number,
    private readonly end: number,
  ) {}

  u8(): number {
    return this.bytes[this.take(1)] as number;
  }

  u32(): number {
    return this.bytes.readUInt32LE(this.take(4));
  }

  u64(): number {
    const low = this.u32();
    const value = this.u32() * TWO_TO_32 + low;
    if (!Number.isSafeInteger(value)) throw new MalformedPayload("integer beyond the safe range");
    return value;
  }

  remaining(): number {
    return this.end - this.offset;
  }

  rest(): Buffer {
    return this.bytes.subarray(this.take(this.remaining()), this.end);
  }

  expectEnd(): void {
    if (this.offset !== this.end) throw new MalformedPayload(`${this.end - this.offset} unexpected bytes after the payload`);
  }

  private take(count: number): number {
    if (this.offset + count > this.end) throw new MalformedPayload("payload shorter than its type requires");
    const at = this.offset;
    this.offset += count;
    return at;
  }
}
