/**
 * Recovery: replays every segment in order, verifying every record, and
 * rebuilds the hard state, the latest snapshot marker and the log after it.
 */
import { join } from "node:path";
import type { Entry } from "@raftkv/raft";
import { RecordType, type SegmentHeader, type WalRecord } from "./codec.js";
import { WalCorruptionError } from "./errors.js";
import type { WalFileSystem } from "./fs.js";
import { advance, misfit, samePosition, snapshotIndex, type WalPosition } from "./position.js";
import { scanSegment, segmentName, validFrameFollows, type SegmentScan } from "./segment.js";

/** A segment on disk, as {@link Wal.releaseTo} needs to know it. */
export interface SegmentInfo {
  readonly seq: number;
  /**
   * The log's last index when the segment was created. Every entry of
   * earlier segments that is still live lies at or below it.
   */
  readonly priorLastIndex: number;
}

/** Bytes cut off the end of the last segment: a write the crash interrupted. */
export interface TornTail {
  readonly file: string;
  readonly offset: number;
  readonly bytesDiscarded: number;
  readonly damage: string;
}

export interface Recovery {
  readonly position: WalPosition;
  /** The entries after the latest snapshot, conflicts resolved. */
  readonly entries: Entry[];
  readonly segments: SegmentInfo[];
  /** Where the last segment's valid records end: the next write goes there. */
  readonly activeSize: number;
  readonly tornTail: TornTail | undefined;
}

interface Location {
  readonly file: string;
  readonly offset: number;
}

/** Replays the segments named (in order; at least one). */
export async function recover(fs: WalFileSystem, dir: string, seqs: readonly number[]): Promise<Recovery> {
  const replay = new LogReplay();
  const segments: SegmentInfo[] = [];
  let activeSize = 0;
  let tornTail: TornTail | undefined;
  for (const [i, seq] of seqs.entries()) {
    const file = join(dir, segmentName(seq));
    const bytes = await fs.readFile(file);
    const scan = scanSegment(bytes);
    const isLast = i === seqs.length - 1;
    if (scan.damage !== undefined) {
      tornTail = tornTailOrCorruption(file, bytes, scan, isLast);
    }
    segments.push(replaySegment(replay, file, seq, scan));
    activeSize = scan.validEnd;
  }
  return { ...replay.finish(), segments, activeSize, tornTail };
}

/**
 * A bad frame is a torn tail only at the end of the last segment, after its
 * header (headers are synced before the file gets its name), with no valid
 * frame anywhere after it. Anything else is corruption.
 */
function tornTailOrCorruption(file: string, bytes: Buffer, scan: SegmentScan, isLast: boolean): TornTail {
  const offset = scan.validEnd;
  const damage = scan.damage as string;
  if (!isLast) throw new WalCorruptionError(file, offset, `${damage} in a segment that was complete before the next one began`);
  if (offset === 0) throw new WalCorruptionError(file, offset, `${damage} in the segment header`);
  if (validFrameFollows(bytes, offset)) throw new WalCorruptionError(file, offset, `${damage}, yet valid records follow`);
  return { file, offset, bytesDiscarded: bytes.length - offset, damage };
}

function replaySegment(replay: LogReplay, file: string, seq: number, scan: SegmentScan): SegmentInfo {
  const [first, ...rest] = scan.records;
  if (first?.record.type !== RecordType.SegmentHeader) {
    throw new WalCorruptionError(file, 0, "the segment does not start with a header");
  }
  const header = first.record.header;
  replay.startSegment(header, seq, { file, offset: 0 });
  for (const { record, offset } of rest) replay.apply(record, { file, offset });
  return { seq, priorLastIndex: header.position.lastIndex };
}

/**
 * The log as the records rebuild it. Entries start at `start`; after older
 * segments were released, the first header only says where the log stood,
 * so entries before `start` are unknown until a snapshot covers them.
 */
class LogReplay {
  private position: WalPosition | undefined;
  private lastSeq = 0;
  private start = 1;
  private entries: Entry[] = [];
  private firstSegment: Location | undefined;

  startSegment(header: SegmentHeader, seq: number, at: Location): void {
    if (header.seq !== seq) throw new WalCorruptionError(at.file, at.offset, `the header names segment ${header.seq}`);
    if (this.position === undefined) {
      this.position = header.position;
      this.start = header.position.lastIndex + 1;
      this.firstSegment = at;
    } else if (seq !== this.lastSeq + 1) {
      throw new WalCorruptionError(at.file, at.offset, `segment ${this.lastSeq + 1} is missing before it`);
    } else if (!samePosition(header.position, this.position)) {
      throw new WalCorruptionError(at.file, at.offset, "the header does not match where the previous segment ended");
    }
    this.lastSeq = seq;
  }

  apply(record: WalRecord, at: Location): void {
    const position = this.position as WalPosition;
    const problem = misfit(position, record);
    if (problem !== undefined) throw new WalCorruptionError(at.file, at.offset, problem);
    this.position = advance(position, record);
    switch (record.type) {
      case RecordType.Entry:
        return this.append(record.entry);
      case RecordType.SnapshotTaken:
        return this.dropThrough(record.snapshot.index);
      case RecordType.SnapshotInstalled:
        this.start = record.snapshot.index + 1;
        this.entries = [];
        return;
    }
  }

  finish(): { position: WalPosition; entries: Entry[] } {
    const position = this.position as WalPosition;
    const covered = snapshotIndex(position);
    if (this.start > covered + 1) {
      const { file, offset } = this.firstSegment as Location;
      throw new WalCorruptionError(file, offset, `entries ${covered + 1} to ${this.start - 1} are missing: an earlier segment is gone`);
    }
    return { position, entries: this.entries };
  }

  /** Appends, replacing the entry at the same index and everything after it. */
  private append(entry: Entry): void {
    if (entry.index < this.start) {
      this.start = entry.index;
      this.entries = [entry];
    } else {
      this.entries.length = entry.index - this.start;
      this.entries.push(entry);
    }
  }

  private dropThrough(index: number): void {
    if (index < this.start) return;
    this.entries = this.entries.slice(index - this.start + 1);
    this.start = index + 1;
  }
}
