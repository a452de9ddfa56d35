/**
 * Where everything lives in LevelDB. Key spaces, each behind a one-byte
 * prefix:
 *
 *   "r" main(8, big-endian) sub(8, big-endian) -> msgpack [key, value, createRevision, version, lease]
 *                                                 or [key] for a tombstone
 *   "k" the revision without its value, as text  -> the key as UTF-8 (see indexEntry),
 *                                                 written in the same batch as its "r" record
 *   "l" lease id (8, big-endian two's complement) -> msgpack [ttl, remainingTtl]
 *   "q" raft index (8, big-endian)              -> msgpack [requestId, fingerprint, "applied", response]
 *                                                 or [requestId, fingerprint, "rejected", error code, compact revision]
 *   "m" name                                    -> msgpack number (or true for the import marker)
 *   "s" name                                    -> the bytes of a side record (see LogEntry.sideRecord)
 *
 * Revision keys sort in revision order, so history, hashing and events read
 * it sequentially; the mod revision is the key itself and is not repeated in
 * the value. Open reads the "k" space alone: a "k" record is about a tenth
 * of an "r" record with a 256-byte value, and open needs nothing else. Request id records sort in apply order, the order the window
 * evicts them in.
 */
import { crc32 } from "node:zlib";
import { Packr } from "msgpackr";
import { CompactedError, MvccError, type MvccErrorCode } from "./errors.js";
import type { KeyRevision } from "./key-index.js";
import type { KeyString } from "./keys.js";
import type { FirstOutcome, LeaseRecord, Request, Response } from "./types.js";

const packr = new Packr({ useRecords: false });

const REVISION_PREFIX = 0x72; // "r"
const INDEX_ENTRY_PREFIX = 0x6b; // "k"
const LEASE_PREFIX = 0x6c; // "l"
const META_PREFIX = 0x6d; // "m"
const REQUEST_ID_PREFIX = 0x71; // "q"
const SIDE_RECORD_PREFIX = 0x73; // "s"

/** Bounds of a key space, for iterators and clears. */
export interface KeySpace {
  readonly gte: Uint8Array;
  readonly lt: Uint8Array;
}

export const REVISIONS: KeySpace = { gte: Uint8Array.of(REVISION_PREFIX), lt: Uint8Array.of(REVISION_PREFIX + 1) };
export const INDEX_ENTRIES: KeySpace = { gte: Uint8Array.of(INDEX_ENTRY_PREFIX), lt: Uint8Array.of(INDEX_ENTRY_PREFIX + 1) };
export const LEASES: KeySpace = { gte: Uint8Array.of(LEASE_PREFIX), lt: Uint8Array.of(LEASE_PREFIX + 1) };
export const REQUEST_IDS: KeySpace = { gte: Uint8Array.of(REQUEST_ID_PREFIX), lt: Uint8Array.of(REQUEST_ID_PREFIX + 1) };
export const SIDE_RECORDS: KeySpace = { gte: Uint8Array.of(SIDE_RECORD_PREFIX), lt: Uint8Array.of(SIDE_RECORD_PREFIX + 1) };

export const META = {
  appliedIndex: metaKey("appliedIndex"),
  revision: metaKey("revision"),
  compactRevision: metaKey("compactRevision"),
  /** Present while a snapshot import is under way: a store found with it is half-written. */
  importing: metaKey("importing"),
  /** Which layout the store's files follow: absent in stores written before the "k" space (see LAYOUT_VERSION). */
  layout: metaKey("layout"),
} as const;

/**
 * The layout this code writes. 1: every "r" record has its "k" record. A
 * store without the marker is upgraded on open (persistence.ts), and the
 * marker is written only once every "k" record is. It describes these
 * files, not the replicated state, so snapshots leave it out.
 */
export const LAYOUT_VERSION = 1;

function metaKey(name: string): Uint8Array {
  return Buffer.concat([Uint8Array.of(META_PREFIX), Buffer.from(name, "ascii")]);
}

export function sideRecordKey(name: string): Uint8Array {
  return Buffer.concat([Uint8Array.of(SIDE_RECORD_PREFIX), Buffer.from(name, "utf8")]);
}

export function sideRecordName(dbKey: Uint8Array): string {
  return Buffer.from(dbKey.subarray(1)).toString("utf8");
}

export function revisionKey(main: number, sub: number): Uint8Array {
  const key = Buffer.allocUnsafe(17);
  key[0] = REVISION_PREFIX;
  writeUint64(key, 1, main);
  writeUint64(key, 9, sub);
  return key;
}

/**
 * Entries that describe how this store keeps its files rather than the
 * replicated state: a snapshot leaves them out, and an import writes its own
 * (the "k" records follow from the "r" records it carries). A snapshot thus
 * reads the same whichever layout its member keeps.
 */
export function isLayoutEntry(dbKey: Uint8Array): boolean {
  return dbKey[0] === INDEX_ENTRY_PREFIX || Buffer.compare(dbKey, META.layout) === 0;
}

/** What a snapshot reads: every key space but "k", so that an export does not copy what it leaves out (isLayoutEntry still drops the marker). */
export const SNAPSHOT_RANGES: readonly KeySpace[] = [
  { gte: Uint8Array.of(), lt: INDEX_ENTRIES.gte },
  { gte: INDEX_ENTRIES.lt, lt: Uint8Array.of(0xff) },
];

export function leaseKey(id: number): Uint8Array {
  const key = Buffer.allocUnsafe(9);
  key[0] = LEASE_PREFIX;
  key.writeBigInt64BE(BigInt(id), 1);
  return key;
}

function writeUint64(target: Buffer, offset: number, value: number): void {
  target.writeUInt32BE(Math.floor(value / 2 ** 32), offset);
  target.writeUInt32BE(value >>> 0, offset + 4);
}

function readUint64(source: Buffer, offset: number): number {
  return source.readUInt32BE(offset) * 2 ** 32 + source.readUInt32BE(offset + 4);
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * msgpack `[key, value, createRevision, version, lease]`, or `[key]` for a
 * tombstone: the bytes msgpackr writes (HashKV is a CRC of them, so every
 * member must write the same ones), written here without msgpackr's
 * generic walk when every number is a whole number msgpack writes in a
 * fixed way (0 up to 2^53, as revisions, versions and etcd's lease ids are).
 */
export function encodeRevision(key: Uint8Array, revision: KeyRevision, value: Uint8Array): Uint8Array {
  if (revision.tombstone) {
    const tombstone = Buffer.allocUnsafe(1 + binSize(key));
    tombstone[0] = FIXARRAY | 1;
    writeBin(tombstone, 1, key);
    return tombstone;
  }
  const { createRevision, version, lease } = revision;
  if (!(isPackedFixed(createRevision) && isPackedFixed(version) && isPackedFixed(lease))) {
    return packr.pack([key, value, createRevision, version, lease]);
  }
  const size = 1 + binSize(key) + binSize(value) + uintSize(createRevision) + uintSize(version) + uintSize(lease);
  const bytes = Buffer.allocUnsafe(size);
  bytes[0] = FIXARRAY | 5;
  let at = writeBin(bytes, 1, key);
  at = writeBin(bytes, at, value);
  at = writeUint(bytes, at, createRevision);
  at = writeUint(bytes, at, version);
  writeUint(bytes, at, lease);
  return bytes;
}

const FIXARRAY = 0x90;

function isPackedFixed(value: number): boolean {
  return Number.isSafeInteger(value) && value >= 0;
}

function binSize(bytes: Uint8Array): number {
  const length = bytes.byteLength;
  return length + (length < 0x100 ? 2 : length < 0x10000 ? 3 : 5);
}

function writeBin(target: Buffer, at: number, bytes: Uint8Array): number {
  const length = bytes.byteLength;
  let start = at;
  if (length < 0x100) {
    target[start++] = 0xc4;
    target[start++] = length;
  } else if (length < 0x10000) {
    target[start++] = 0xc5;
    start = target.writeUInt16BE(length, start);
  } else {
    target[start++] = 0xc6;
    start = target.writeUInt32BE(length, start);
  }
  target.set(bytes, start);
  return start + length;
}

/** As msgpackr writes a whole number from 0: a positive fixint, uint 8, 16 or 32, and a float 64 past 32 bits. */
function uintSize(value: number): number {
  return value < 0x80 ? 1 : value < 0x100 ? 2 : value < 0x10000 ? 3 : value < 2 ** 32 ? 5 : 9;
}

function writeUint(target: Buffer, at: number, value: number): number {
  if (value < 0x80) {
    target[at] = value;
    return at + 1;
  }
  if (value < 0x100) {
    target[at] = 0xcc;
    target[at + 1] = value;
    return at + 2;
  }
  if (value < 0x10000) {
    target[at] = 0xcd;
    return target.writeUInt16BE(value, at + 1);
  }
  if (value < 2 ** 32) {
    target[at] = 0xce;
    return target.writeUInt32BE(value, at + 1);
  }
  target[at] = 0xcb;
  return target.writeDoubleBE(value, at + 1);
}

/** A decoded "r" entry: the key, its index entry and its value (empty for a tombstone). */
export interface StoredRevision {
  readonly key: Uint8Array;
  readonly revision: KeyRevision;
  readonly value: Uint8Array;
}

type RevisionTuple = [Uint8Array] | [Uint8Array, Uint8Array, number, number, number];

export function decodeRevision(dbKey: Uint8Array, dbValue: Uint8Array): StoredRevision {
  const keyBytes = asBuffer(dbKey);
  const main = readUint64(keyBytes, 1);
  const sub = readUint64(keyBytes, 9);
  const tuple = packr.unpack(dbValue) as RevisionTuple;
  if (tuple.length === 1) {
    return {
      key: tuple[0],
      value: EMPTY,
      revision: { main, sub, createRevision: 0, version: 0, lease: 0, tombstone: true },
    };
  }
  const [key, value, createRevision, version, lease] = tuple;
  return { key, value, revision: { main, sub, createRevision, version, lease, tombstone: false } };
}

/** Only the value of an "r" entry, for reads that know everything else from the index. */
export function decodeValue(dbValue: Uint8Array): Uint8Array {
  const tuple = packr.unpack(dbValue) as RevisionTuple;
  return tuple[1] ?? EMPTY;
}

export const EMPTY: Uint8Array = new Uint8Array(0);

/**
 * A "k" record is text, so that open reads it as two strings and LevelDB
 * makes no Buffer for it (a Buffer per record cost a third of open's CPU):
 *
 *   key    "k" main sub (16 hex digits each, so that keys sort in revision
 *          order), then for a live revision createRevision and version (16
 *          hex digits each) and the lease in decimal; nothing for a tombstone
 *   value  the key's latin1 string (its KeyString) as UTF-8, which decodes
 *          back to that string exactly and is what the index holds
 */
const HEX = 16;
const REVISION_END = 1 + 2 * HEX;

export function indexEntry(key: KeyString, revision: KeyRevision): { key: Uint8Array; value: Uint8Array } {
  return { key: indexEntryKey(revision), value: Buffer.from(key, "utf8") };
}

export function indexEntryKey(revision: KeyRevision): Uint8Array {
  const { main, sub, createRevision, version, lease, tombstone } = revision;
  const leaseText = tombstone ? "" : String(lease);
  const bytes = Buffer.allocUnsafe(tombstone ? REVISION_END : REVISION_END + 2 * HEX + leaseText.length);
  bytes[0] = INDEX_ENTRY_PREFIX;
  writeHex(bytes, 1, main);
  writeHex(bytes, 1 + HEX, sub);
  if (tombstone) return bytes;
  writeHex(bytes, REVISION_END, createRevision);
  writeHex(bytes, REVISION_END + HEX, version);
  bytes.write(leaseText, REVISION_END + 2 * HEX, "latin1");
  return bytes;
}

const HEX_DIGITS = Buffer.from("0123456789abcdef", "latin1");

/** A whole number from 0 below 2^53 as 16 lowercase hex digits. */
function writeHex(target: Buffer, at: number, value: number): void {
  let low = value >>> 0;
  let high = Math.floor(value / 2 ** 32);
  for (let i = HEX - 1; i >= HEX / 2; i--) {
    target[at + i] = HEX_DIGITS[low & 0xf]!;
    low >>>= 4;
  }
  for (let i = HEX / 2 - 1; i >= 0; i--) {
    target[at + i] = HEX_DIGITS[high & 0xf]!;
    high >>>= 4;
  }
}

/** Bounds of the "k" space for an iterator that decodes keys as text. */
export const INDEX_ENTRY_TEXT = { gte: "k", lt: "l" } as const;

/** A "k" record read as text: the key as the index holds it, and the revision. */
export function decodeIndexEntry(dbKey: string, dbValue: string): { key: KeyString; revision: KeyRevision } {
  const main = Number.parseInt(dbKey.slice(1, 1 + HEX), 16);
  const sub = Number.parseInt(dbKey.slice(1 + HEX, REVISION_END), 16);
  if (dbKey.length === REVISION_END) return { key: dbValue, revision: { main, sub, createRevision: 0, version: 0, lease: 0, tombstone: true } };
  const createRevision = Number.parseInt(dbKey.slice(REVISION_END, REVISION_END + HEX), 16);
  const version = Number.parseInt(dbKey.slice(REVISION_END + HEX, REVISION_END + 2 * HEX), 16);
  const lease = Number(dbKey.slice(REVISION_END + 2 * HEX));
  return { key: dbValue, revision: { main, sub, createRevision, version, lease, tombstone: false } };
}

export function encodeLease(record: LeaseRecord): Uint8Array {
  return packr.pack([record.ttl, record.remainingTtl, record.renewedAt]);
}

export function decodeLease(dbKey: Uint8Array, dbValue: Uint8Array): LeaseRecord {
  const [ttl, remainingTtl, renewedAt = 0] = packr.unpack(dbValue) as [number, number, number?];
  return { id: Number(asBuffer(dbKey).readBigInt64BE(1)), ttl, remainingTtl, renewedAt };
}

export function requestIdKey(index: number): Uint8Array {
  const key = Buffer.allocUnsafe(9);
  key[0] = REQUEST_ID_PREFIX;
  writeUint64(key, 1, index);
  return key;
}

/** A decoded "q" entry. */
export interface RequestRecord {
  readonly requestId: string;
  readonly fingerprint: number;
  readonly outcome: FirstOutcome;
}

type RequestTuple = [string, number, "applied", Response] | [string, number, "rejected", MvccErrorCode, number];

export function encodeRequestRecord({ requestId, fingerprint, outcome }: RequestRecord): Uint8Array {
  const tuple: RequestTuple =
    outcome.status === "applied"
      ? [requestId, fingerprint, "applied", outcome.response]
      : [requestId, fingerprint, "rejected", outcome.error.code, outcome.error instanceof CompactedError ? outcome.error.compactRevision : 0];
  return packr.pack(tuple);
}

export function decodeRequestRecord(dbKey: Uint8Array, dbValue: Uint8Array): RequestRecord {
  const index = readUint64(asBuffer(dbKey), 1);
  const tuple = packr.unpack(dbValue) as RequestTuple;
  const [requestId, fingerprint] = tuple;
  if (tuple[2] === "applied") return { requestId, fingerprint, outcome: { status: "applied", index, response: tuple[3] } };
  const [, , , code, compactRevision] = tuple;
  const error = code === "compacted" ? new CompactedError(compactRevision) : new MvccError(code);
  return { requestId, fingerprint, outcome: { status: "rejected", index, error } };
}

/**
 * A checksum of a request, the same on every replica since they all decode
 * the same log entry. It tells a retry (same request) from an id reused for
 * another request; 32 bits are plenty against mistakes, which is all it is for.
 */
export function requestFingerprint(request: Request): number {
  return crc32(packr.pack(request));
}

export function encodeMeta(value: number | boolean): Uint8Array {
  return packr.pack(value);
}

export function decodeMeta(dbValue: Uint8Array | undefined): number {
  return dbValue === undefined ? 0 : (packr.unpack(dbValue) as number);
}

/** Snapshot chunks: a format tag and the raw LevelDB entries as [key, value, key, value, ...]. */
const SNAPSHOT_FORMAT = "raftkv-mvcc/1";

export function encodeSnapshotChunk(entries: readonly Uint8Array[]): Uint8Array {
  return packr.pack([SNAPSHOT_FORMAT, entries]);
}

export function decodeSnapshotChunk(chunk: Uint8Array): Uint8Array[] {
  const notAChunk = (cause?: unknown) => new Error(`not a ${SNAPSHOT_FORMAT} snapshot chunk`, { cause });
  let decoded: unknown;
  try {
    decoded = packr.unpack(chunk);
  } catch (error) {
    throw notAChunk(error);
  }
  if (!Array.isArray(decoded) || decoded[0] !== SNAPSHOT_FORMAT || !Array.isArray(decoded[1])) throw notAChunk();
  return decoded[1] as Uint8Array[];
}
