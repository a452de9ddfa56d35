/**
 * Where everything lives in LevelDB. Three key spaces, each behind a one-byte
 * prefix:
 *
 *   "r" main(8, big-endian) sub(8, big-endian) -> msgpack [key, value, createRevision, version, lease]
 *                                                 or [key] for a tombstone
 *   "l" lease id (8, big-endian two's complement) -> msgpack [ttl, remainingTtl]
 *   "m" name                                    -> msgpack number (or true for the import marker)
 *
 * Revision keys sort in revision order, so history, hashing and events read
 * it sequentially; the mod revision is the key itself and is not repeated in
 * the value.
 */
import { Packr } from "msgpackr";
import type { KeyRevision } from "./key-index.js";
import type { LeaseRecord } from "./types.js";

const packr = new Packr({ useRecords: false });

const REVISION_PREFIX = 0x72; // "r"
const LEASE_PREFIX = 0x6c; // "l"
const META_PREFIX = 0x6d; // "m"

/** Bounds of a key space, for iterators and clears. */
export interface KeySpace {
  readonly gte: Uint8Array;
  readonly lt: Uint8Array;
}

export const REVISIONS: KeySpace = { gte: Uint8Array.of(REVISION_PREFIX), lt: Uint8Array.of(REVISION_PREFIX + 1) };
export const LEASES: KeySpace = { gte: Uint8Array.of(LEASE_PREFIX), lt: Uint8Array.of(LEASE_PREFIX + 1) };

export const META = {
  appliedIndex: metaKey("appliedIndex"),
  revision: metaKey("revision"),
  compactRevision: metaKey("compactRevision"),
  /** Present while a snapshot import is under way: a store found with it is half-written. */
  importing: metaKey("importing"),
} as const;

function metaKey(name: string): Uint8Array {
  return Buffer.concat([Uint8Array.of(META_PREFIX), Buffer.from(name, "ascii")]);
}

export function revisionKey(main: number, sub: number): Uint8Array {
  const key = Buffer.allocUnsafe(17);
  key[0] = REVISION_PREFIX;
  writeUint64(key, 1, main);
  writeUint64(key, 9, sub);
  return key;
}

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

export function encodeRevision(key: Uint8Array, revision: KeyRevision, value: Uint8Array): Uint8Array {
  if (revision.tombstone) return packr.pack([key]);
  return packr.pack([key, value, revision.createRevision, revision.version, revision.lease]);
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

export function encodeLease(ttl: number, remainingTtl: number): Uint8Array {
  return packr.pack([ttl, remainingTtl]);
}

export function decodeLease(dbKey: Uint8Array, dbValue: Uint8Array): LeaseRecord {
  const [ttl, remainingTtl] = packr.unpack(dbValue) as [number, number];
  return { id: Number(asBuffer(dbKey).readBigInt64BE(1)), ttl, remainingTtl };
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
