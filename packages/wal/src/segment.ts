/**
 * Segment files: their names, their creation, and reading their records.
 *
 * A segment is named by its sequence number (16 hex digits, so names sort in
 * order) and starts with a header record. It is written under a temporary
 * name, synced, renamed and the directory synced, so a file under a segment
 * name always holds at least a complete header.
 */
import { join } from "node:path";
import { FRAME_HEADER_BYTES, RecordType, decodeFrame, encodeRecords, type WalRecord } from "./codec.js";
import type { WalFile, WalFileSystem } from "./fs.js";
import type { WalPosition } from "./position.js";

const SEGMENT_NAME = /^([0-9a-f]{16})\.wal$/;
export const TEMPORARY_SUFFIX = ".tmp";

export function segmentName(seq: number): string {
  return `${seq.toString(16).padStart(16, "0")}.wal`;
}

/** The sequence number a segment file name carries, or undefined for other files. */
export function segmentSeq(name: string): number | undefined {
  const match = SEGMENT_NAME.exec(name);
  return match ? Number.parseInt(match[1] as string, 16) : undefined;
}

export interface ActiveSegment {
  readonly seq: number;
  readonly file: WalFile;
  /** Bytes of valid records; the next write goes here. */
  size: number;
}

/** Creates segment `seq` whose header records `position`, crash-safely. */
export async function createSegment(fs: WalFileSystem, dir: string, seq: number, position: WalPosition): Promise<ActiveSegment> {
  const header = encodeRecords([{ type: RecordType.SegmentHeader, header: { seq, position } }]);
  const path = join(dir, segmentName(seq));
  const temporary = path + TEMPORARY_SUFFIX;
  const file = await fs.create(temporary);
  try {
    await file.write(header, 0);
    await file.datasync();
    await fs.rename(temporary, path);
    await fs.syncDir(dir);
  } catch (error) {
    await file.close();
    throw error;
  }
  return { seq, file, size: header.byteLength };
}

export interface ScannedRecord {
  readonly record: WalRecord;
  readonly offset: number;
}

export interface SegmentScan {
  /** The valid records from the start of the file, in order. */
  readonly records: readonly ScannedRecord[];
  /** Where the valid records end. */
  readonly validEnd: number;
  /** Why the bytes at `validEnd` are not a record, if the file goes on. */
  readonly damage: string | undefined;
}

/** Reads records from the start of a segment up to the end or the first bad frame. */
export function scanSegment(bytes: Buffer): SegmentScan {
  const records: ScannedRecord[] = [];
  let offset = 0;
  while (offset < bytes.length) {
    const frame = decodeFrame(bytes, offset);
    if (!frame.ok) return { records, validEnd: offset, damage: frame.damage };
    records.push({ record: frame.record, offset });
    offset = frame.end;
  }
  return { records, validEnd: offset, damage: undefined };
}

/**
 * Whether a valid frame starts anywhere after `offset`. A crash mid-write
 * leaves a prefix of the last write followed by nothing, zeros or garbage,
 * never a complete record: a valid record after a bad one means the bad one
 * was damaged after it was written.
 */
export function validFrameFollows(bytes: Buffer, offset: number): boolean {
  for (let at = offset + 1; at + FRAME_HEADER_BYTES <= bytes.length; at++) {
    if (decodeFrame(bytes, at).ok) return true;
  }
  return false;
}
