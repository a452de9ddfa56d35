import { dirname, join } from "node:path";
import type { Entry, HardState, SnapshotMeta } from "@raftkv/raft";
import { RecordType, encodeRecords, type WalRecord } from "./codec.js";
import { WalClosedError, WalFailedError } from "./errors.js";
import { nodeFileSystem, type WalFileSystem } from "./fs.js";
import { INITIAL_POSITION, advance, misfit, snapshotIndex, type WalPosition } from "./position.js";
import { recover, type Recovery, type SegmentInfo, type TornTail } from "./recovery.js";
import { TEMPORARY_SUFFIX, createSegment, segmentName, segmentSeq, type ActiveSegment } from "./segment.js";

export interface WalOptions {
  /** Where the files live: the real disk unless a test passes a `SimDisk` mount. */
  readonly fs?: WalFileSystem;
  /** A segment rolls over once it has reached this size (it ends with a whole save). */
  readonly segmentBytes?: number;
}

export const DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024;

/** What one ready cycle persists, written in this order. */
export interface WalBatch {
  /** A snapshot received from the leader: it replaces the whole log. */
  readonly snapshot?: SnapshotMeta;
  /** Consecutive entries; any existing entries from the first index on are replaced. */
  readonly entries?: readonly Entry[];
  /** Last, so that a commit index on disk never points past the entries on disk. */
  readonly hardState?: HardState;
}

/** The durable state found by {@link Wal.open}. */
export interface RecoveredState {
  readonly hardState: HardState;
  /** The latest snapshot marker, if any. */
  readonly snapshot: SnapshotMeta | undefined;
  /** The entries after the snapshot, in order, conflicts resolved. */
  readonly entries: readonly Entry[];
  /** Set when recovery cut off a partly written, hence unacknowledged, save. */
  readonly tornTail: TornTail | undefined;
}

interface PendingSave {
  readonly bytes: Buffer;
  /** Where the log stands once this save is written (found when it was accepted). */
  readonly position: WalPosition;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/**
 * The durable Raft log and hard state: segmented, checksummed, append-only.
 *
 * Saves are queued in call order. All saves that arrive while a write is in
 * flight go out together in the next durable write (group commit), and none
 * resolves before that write is durable. Any I/O failure is final for
 * this instance: see {@link WalFailedError}.
 */
export class Wal {
  /** Position after every save accepted so far; validates the next one. */
  private accepted: WalPosition;
  /** Position after every save written; what a new segment header records. */
  private written: WalPosition;
  private queue: PendingSave[] = [];
  private flushScheduled = false;
  /** The tail of the chain that runs flushes, releases and close one at a time. */
  private tail: Promise<void> = Promise.resolve();
  private failure: WalFailedError | undefined;
  private closing = false;

  private constructor(
    private readonly fs: WalFileSystem,
    private readonly dir: string,
    private readonly segmentBytes: number,
    private active: ActiveSegment,
    private readonly segments: SegmentInfo[],
    position: WalPosition,
    readonly recovered: RecoveredState,
  ) {
    this.accepted = position;
    this.written = position;
  }

  /** Opens the log in `dir`, creating it if needed, and recovers its state. */
  static async open(dir: string, options: WalOptions = {}): Promise<Wal> {
    const fs = options.fs ?? nodeFileSystem;
    const segmentBytes = options.segmentBytes ?? DEFAULT_SEGMENT_BYTES;
    const seqs = await prepareDirectory(fs, dir);
    if (seqs.length === 0) {
      const active = await createSegment(fs, dir, 1, INITIAL_POSITION);
      const recovered = recoveredState(INITIAL_POSITION, [], undefined);
      return new Wal(fs, dir, segmentBytes, active, [{ seq: 1, priorLastIndex: 0 }], INITIAL_POSITION, recovered);
    }
    const recovery = await recover(fs, dir, seqs);
    const active = await reopenLastSegment(fs, dir, seqs[seqs.length - 1] as number, recovery);
    const recovered = recoveredState(recovery.position, recovery.entries, recovery.tornTail);
    return new Wal(fs, dir, segmentBytes, active, recovery.segments, recovery.position, recovered);
  }

  /** The index of the newest snapshot recorded, counting saves accepted but not yet durable. */
  get latestSnapshotIndex(): number {
    return snapshotIndex(this.accepted);
  }

  /** Persists one ready cycle; resolves once it is durable. */
  save(batch: WalBatch): Promise<void> {
    return this.submit(() => batchRecords(batch));
  }

  /**
   * Records a snapshot of the local state machine at `meta.index`: entries
   * up to it become releasable; entries after it stay in the log.
   */
  saveSnapshot(meta: SnapshotMeta): Promise<void> {
    return this.submit(() => [{ type: RecordType.SnapshotTaken, snapshot: meta }]);
  }

  /**
   * Deletes segment files all of whose entries lie below both `index` and
   * the latest durable snapshot, oldest first. The active segment stays.
   */
  async releaseTo(index: number): Promise<void> {
    this.assertOpen();
    return this.serially(() => this.guarded(() => this.releaseSegments(Math.min(index, snapshotIndex(this.written)))));
  }

  /** Waits for the saves already made, then closes the log. */
  async close(): Promise<void> {
    if (this.closing) return this.tail;
    this.closing = true;
    return this.serially(() => this.active.file.close());
  }

  /**
   * Queues a save. Not an async function, and the flush path below uses
   * plain `then`s: each async layer cost every save a promise and turns of
   * its own. Refusals still come as a rejected promise, never a throw.
   */
  private submit(recordsOf: () => readonly WalRecord[]): Promise<void> {
    let position: WalPosition;
    let bytes: Buffer;
    try {
      this.assertOpen();
      if (this.failure) throw this.failure;
      // Validate and encode now, so that a bad save fails alone and at once.
      const records = recordsOf();
      position = acceptRecords(this.accepted, records);
      bytes = encodeRecords(records);
      this.accepted = position;
    } catch (error) {
      return Promise.reject(error);
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ bytes, position, resolve, reject });
      this.scheduleFlush();
    });
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    // A flush settles its saves itself and never rejects, so the chain needs no catch after it.
    this.tail = this.tail.then(() => this.flush());
  }

  /** Writes every save queued so far with one durable write. */
  private flush(): Promise<void> {
    this.flushScheduled = false;
    const group = this.queue;
    this.queue = [];
    return this.guarded(() => this.write(group)).then(
      () => {
        for (const save of group) save.resolve();
      },
      (error: unknown) => {
        for (const save of group) save.reject(error);
      },
    );
  }

  private write(group: readonly PendingSave[]): Promise<void> {
    const bytes = group.length === 1 ? (group[0] as PendingSave).bytes : Buffer.concat(group.map((save) => save.bytes));
    if (bytes.byteLength === 0) return Promise.resolve();
    if (this.active.size >= this.segmentBytes) return this.rollOver().then(() => this.append(group, bytes));
    return this.append(group, bytes);
  }

  private append(group: readonly PendingSave[], bytes: Buffer): Promise<void> {
    return this.active.file.writeDurably(bytes, this.active.size).then(() => {
      this.active.size += bytes.byteLength;
      // Saves are accepted and written in one order, so the last one's position is the log's.
      this.written = (group[group.length - 1] as PendingSave).position;
    });
  }

  private async rollOver(): Promise<void> {
    const seq = this.active.seq + 1;
    const next = await createSegment(this.fs, this.dir, seq, this.written);
    await this.active.file.close();
    this.active = next;
    this.segments.push({ seq, priorLastIndex: this.written.lastIndex });
  }

  private async releaseSegments(limit: number): Promise<void> {
    // Oldest first, one directory sync each, so a crash leaves a contiguous run.
    while (this.segments.length > 1 && (this.segments[1] as SegmentInfo).priorLastIndex < limit) {
      await this.fs.unlink(join(this.dir, segmentName((this.segments[0] as SegmentInfo).seq)));
      await this.fs.syncDir(this.dir);
      this.segments.shift();
    }
  }

  /** Runs `op` after everything queued before it. */
  private serially(op: () => Promise<void>): Promise<void> {
    const run = this.tail.then(op);
    this.tail = run.catch(() => undefined);
    return run;
  }

  /** Runs I/O unless an earlier failure forbids it; a failure here is final. */
  private guarded(io: () => Promise<void>): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    let pending: Promise<void>;
    try {
      pending = io();
    } catch (error) {
      // A flush must never throw: its saves would never settle.
      pending = Promise.reject(error);
    }
    return pending.catch((error: unknown) => {
      this.failure = new WalFailedError(error);
      throw this.failure;
    });
  }

  private assertOpen(): void {
    if (this.closing) throw new WalClosedError();
  }
}

/** Lists the segments in order after removing what a crash mid-roll-over left. */
async function prepareDirectory(fs: WalFileSystem, dir: string): Promise<number[]> {
  await fs.mkdir(dir);
  await fs.syncDir(dirname(dir));
  const names = await fs.readdir(dir);
  const leftovers = names.filter((name) => name.endsWith(TEMPORARY_SUFFIX));
  for (const name of leftovers) await fs.unlink(join(dir, name));
  if (leftovers.length > 0) await fs.syncDir(dir);
  return names.flatMap((name) => segmentSeq(name) ?? []).sort((a, b) => a - b);
}

/** Opens the last segment for appending, first cutting off a torn tail. */
async function reopenLastSegment(fs: WalFileSystem, dir: string, seq: number, recovery: Recovery): Promise<ActiveSegment> {
  const file = await fs.openExisting(join(dir, segmentName(seq)));
  try {
    if (recovery.tornTail) {
      await file.truncate(recovery.activeSize);
      await file.datasync();
    }
  } catch (error) {
    await file.close();
    throw error;
  }
  return { seq, file, size: recovery.activeSize };
}

function recoveredState(position: WalPosition, entries: readonly Entry[], tornTail: TornTail | undefined): RecoveredState {
  return { hardState: position.hardState, snapshot: position.snapshot, entries, tornTail };
}

function batchRecords(batch: WalBatch): WalRecord[] {
  const records: WalRecord[] = [];
  if (batch.snapshot) records.push({ type: RecordType.SnapshotInstalled, snapshot: batch.snapshot });
  const entries = batch.entries ?? [];
  for (const [i, entry] of entries.entries()) {
    const previous = entries[i - 1];
    if (previous && entry.index !== previous.index + 1) {
      throw new RangeError(`wal: entries must be consecutive, but ${entry.index} follows ${previous.index}`);
    }
    records.push({ type: RecordType.Entry, entry });
  }
  if (batch.hardState) records.push({ type: RecordType.HardState, hardState: batch.hardState });
  return records;
}

/** The position after `records`, or a RangeError naming the first that does not fit. */
function acceptRecords(position: WalPosition, records: readonly WalRecord[]): WalPosition {
  return records.reduce((current, record) => {
    const problem = misfit(current, record);
    if (problem !== undefined) throw new RangeError(`wal: ${problem}`);
    return advance(current, record);
  }, position);
}
