import { crc32 } from "node:zlib";
import { applyRequest, type ApplyLimits, type ApplyOptions } from "./apply.js";
import { levelDbAt, type StoreDatabase } from "./database.js";
import { CompactedError, MvccError, StoreUnavailableError } from "./errors.js";
import { KeyIndex, type LoggedRevision } from "./key-index.js";
import { ALL_KEYS, fromKeyString, keyRange, rangeContains } from "./keys.js";
import {
  encodeMeta,
  encodeSnapshotChunk,
  EMPTY,
  isLayoutEntry,
  LAYOUT_VERSION,
  META,
  requestFingerprint,
  REVISIONS,
  revisionKey,
  SNAPSHOT_RANGES,
} from "./layout.js";
import { importChunks, loadState, stateAround, writeBatch } from "./persistence.js";
import { keyValue, readRange, resolveReadRevision } from "./read.js";
import { DEFAULT_REQUEST_ID_WINDOW, isValidRequestId } from "./request-ids.js";
import type { BatchOp, Db, MvccState } from "./state.js";
import type {
  ApplyResult,
  EventPage,
  HashResult,
  KeyRangeFilter,
  LeaseDetails,
  LeaseRecord,
  LogEntry,
  RangeRequest,
  RangeResponse,
  Request,
  StoreStatus,
  WatchEvent,
} from "./types.js";
import { validateRequest } from "./validate.js";

export interface MvccStoreOptions {
  /** Floor of granted lease TTLs, in seconds. etcd's is 1.5 election timeouts rounded up: 2 with its defaults. */
  readonly minLeaseTtl?: number;
  /** etcd's --max-txn-ops. */
  readonly maxTxnOps?: number;
  /**
   * fsync every batch. Off by default, like etcd's backend: the applied index
   * is written in the same batch as the data, so whatever a crash loses is
   * applied again from the raft log.
   */
  readonly sync?: boolean;
  /**
   * How many client request ids the store remembers (the last ones applied).
   * Like maxTxnOps, it decides results: every replica must use the same value.
   */
  readonly requestIdWindow?: number;
}

export interface ApplyBatchOptions {
  /**
   * Whether the events of this batch carry the previous key-value (etcd's
   * prev_kv). Reading it costs a LevelDB read per write, so a server whose
   * watchers never ask for it says no. Asked as the batch is applied, so a
   * watcher that subscribes up to that moment sees it. Always, if not given.
   */
  readonly prevKvInEvents?: () => boolean;
}

/** A consistent copy of the whole store, as the snapshot package ships it. */
export interface SnapshotExport {
  readonly appliedIndex: number;
  readonly revision: number;
  readonly compactRevision: number;
  /** Self-describing chunks of LevelDB entries; reading them all (or stopping early) releases the LevelDB snapshot. */
  readonly chunks: AsyncIterable<Uint8Array>;
}

const DEFAULTS = { minLeaseTtl: 2, maxTxnOps: 128, sync: false, requestIdWindow: DEFAULT_REQUEST_ID_WINDOW } as const;
const SNAPSHOT_CHUNK_BYTES = 1 << 20;

/**
 * The MVCC state machine with etcd v3 semantics over LevelDB.
 *
 * Writes come only through apply, in raft log order, one batch at a time:
 * a batch is applied to memory at once and later written to LevelDB, with
 * the applied index, in one atomic write that may carry several batches. Reads are synchronous and see memory,
 * which is always a consistent state (a batch applies between two reads,
 * never during one).
 */
export class MvccStore {
  private writeQueue: Promise<unknown> = Promise.resolve();
  /** A write of the applied batches is queued and has not yet taken them. */
  private writeScheduled = false;
  /**
   * Batches cut off for a snapshot, to be written on their own and before
   * anything applied after them. The next write to start takes them first.
   */
  private readonly sealed: BatchOp[][] = [];
  /** The snapshot import in progress, which applies wait for. */
  private importing: Promise<void> | undefined;
  private unavailable: StoreUnavailableError | undefined;
  private closed = false;

  private constructor(
    private readonly database: StoreDatabase,
    private state: MvccState,
    private readonly limits: ApplyLimits,
    private readonly sync: boolean,
    private readonly requestIdWindow: number,
  ) {}

  private get db(): Db {
    return this.database.db;
  }

  /** Opens the store in a LevelDB directory, or over the database given. */
  static async open(location: string | StoreDatabase, options: MvccStoreOptions = {}): Promise<MvccStore> {
    const database = typeof location === "string" ? levelDbAt(location) : location;
    const db = database.db;
    await db.open();
    try {
      const requestIdWindow = options.requestIdWindow ?? DEFAULTS.requestIdWindow;
      const state = await loadState(db, requestIdWindow);
      const limits = {
        maxTxnOps: options.maxTxnOps ?? DEFAULTS.maxTxnOps,
        minLeaseTtl: options.minLeaseTtl ?? DEFAULTS.minLeaseTtl,
      };
      return new MvccStore(database, state, limits, options.sync ?? DEFAULTS.sync, requestIdWindow);
    } catch (error) {
      await db.close();
      throw error;
    }
  }

  /** The raft index of the last entry applied; entries at or below it are ignored. */
  get appliedIndex(): number {
    return this.state.appliedIndex;
  }

  get revision(): number {
    return this.state.revision;
  }

  get compactRevision(): number {
    return this.state.compactRevision;
  }

  /**
   * Applies committed entries in order, with one result per entry; a
   * rejected request is a result, not an exception. Memory changes at once
   * and the call resolves then: the LevelDB write follows in the background,
   * in order, batches applied during a write going out together in the next
   * one. That is safe because the raft log is the durable record: a crash
   * loses only applies whose index LevelDB does not yet hold, and those are
   * applied again from the log. Rejects only when the store cannot go on
   * (see StoreUnavailableError), which a failed background write also causes.
   */
  async applyBatch(entries: readonly LogEntry[], options: ApplyBatchOptions = {}): Promise<ApplyResult[]> {
    await this.importing;
    this.assertAvailable();
    const appliedBefore = this.state.appliedIndex;
    const applying = { ...this.limits, prevKvInEvents: options.prevKvInEvents?.() ?? true };
    const results = entries.map((entry) => this.applyEntry(entry, applying));
    if (this.state.appliedIndex !== appliedBefore) this.scheduleWrite();
    return results;
  }

  /**
   * The checks that need no state (empty keys, op counts, duplicate writes in
   * a txn), with this store's limits: the ones apply makes, for a server to
   * refuse a request before proposing it. Throws MvccError as etcd would answer.
   */
  validate(request: Request): void {
    validateRequest(request, this.limits.maxTxnOps);
  }

  /** The side record of that name as last applied (see LogEntry.sideRecord); the same object until an entry or a snapshot import replaces it. */
  sideRecord(name: string): Uint8Array | undefined {
    return this.state.sideRecords.get(name);
  }

  /** A serializable read at the store's current state. Throws MvccError as etcd would answer. */
  range(request: RangeRequest): RangeResponse {
    this.assertAvailable();
    this.validate({ op: "range", ...request });
    return readRange(this.state, request, this.state.revision);
  }

  /**
   * Stored events from `startRevision` on, oldest first, for a watcher to catch
   * up before it takes live events from apply results. A page holds about
   * `limit` events and never splits a revision. Below the compacted revision
   * the history is gone: CompactedError carries the revision to report.
   */
  eventsSince(startRevision: number, filter?: KeyRangeFilter, limit = 1000): EventPage {
    this.assertAvailable();
    const { index, compactRevision, revision } = this.state;
    if (startRevision < compactRevision) throw new CompactedError(compactRevision);
    const range = filter === undefined ? ALL_KEYS : keyRange(filter.key, filter.rangeEnd);
    const events: WatchEvent[] = [];
    let lastRevision = 0;
    for (const logged of index.loggedFrom(startRevision)) {
      const { main } = logged.revision;
      if (events.length >= limit && main !== lastRevision) return { events, nextRevision: main, caughtUp: false };
      if (!rangeContains(range, logged.key)) continue;
      events.push(this.eventOf(logged));
      lastRevision = main;
    }
    return { events, nextRevision: Math.max(startRevision, revision + 1), caughtUp: true };
  }

  /** A lease with its attached keys, or undefined when there is no such lease. */
  lease(id: number): LeaseDetails | undefined {
    this.assertAvailable();
    const record = this.state.leases.get(id);
    if (record === undefined) return undefined;
    return { ...record, keys: this.state.leases.keysOf(id).map(fromKeyString) };
  }

  /** Every lease in id order, with its last checkpointed remaining TTL: what a new leader restores its timers from. */
  leases(): LeaseRecord[] {
    this.assertAvailable();
    return this.state.leases.all();
  }

  /**
   * etcd's HashKV: a CRC-32 of every stored revision up to `revision` (0: the
   * current one), in revision order. Replicas that applied the same log have
   * the same hash.
   */
  async hash(revision = 0): Promise<HashResult> {
    await this.quiesce();
    const { revision: current, compactRevision } = this.state;
    const upTo = resolveReadRevision(revision, current, compactRevision);
    let hash = 0;
    await this.withSnapshot(async (snapshot) => {
      for await (const [key, value] of this.db.iterator({ gte: REVISIONS.gte, lt: revisionKey(upTo + 1, 0), snapshot })) {
        hash = crc32(value, crc32(key, hash));
      }
    });
    return { hash, revision: current, compactRevision };
  }

  /**
   * What the store holds, as applied in memory, and its files' size. It
   * answers for a store a failed write made unavailable too: that is what a
   * member whose storage failed reports while it says why.
   */
  async status(): Promise<StoreStatus> {
    const { revision, compactRevision, appliedIndex, index, leases } = this.state;
    return {
      revision,
      compactRevision,
      appliedIndex,
      dbSize: await this.database.size(),
      keyCount: index.liveKeyCount,
      storedRevisions: index.storedRevisionCount,
      leaseCount: leases.size,
    };
  }

  /**
   * etcd's Defragment: LevelDB rewrites its files over the whole key range,
   * leaving out what compaction and deletes made dead, so the files (and
   * `status().dbSize`) shrink. Reads and applies go on meanwhile. What is
   * applied by the call is written first, so the deletes and compactions
   * applied so far are among what it drops.
   */
  async defragment(): Promise<void> {
    await this.quiesce();
    await this.database.compact();
  }

  /**
   * A copy of the whole store exactly as applied at the time of the call,
   * however many applies follow before it resolves: what was applied so far
   * is sealed into a write of its own, and the chunks come from a LevelDB
   * snapshot taken once that write has landed and before any later one.
   */
  async exportSnapshot(): Promise<SnapshotExport> {
    this.assertAvailable();
    const { appliedIndex, revision, compactRevision } = this.state;
    this.sealed.push(this.state.takeBatch());
    // Applies from now on need a write queued behind the snapshot.
    this.writeScheduled = false;
    const snapshot = await this.enqueue(async () => {
      // Unless a write queued before the cut has taken the sealed batch already.
      const ops = this.sealed.shift();
      if (ops !== undefined) await this.write(ops);
      // A failed write (whoever made it) leaves LevelDB short of the cut.
      this.assertAvailable();
      return this.db.snapshot();
    });
    return { appliedIndex, revision, compactRevision, chunks: this.snapshotChunks(snapshot) };
  }

  /**
   * Replaces the whole state with an exported one. While it runs the store
   * serves nothing; a crash in the middle leaves a marker that makes open
   * refuse the half-written store, so the caller imports again. Since it
   * replaces everything, it also revives a store that a failed write or a
   * failed import made unavailable.
   */
  importSnapshot(chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Promise<void> {
    const run = this.enqueue(async () => {
      if (this.closed) throw new StoreUnavailableError("closed");
      this.unavailable = new StoreUnavailableError("restoring a snapshot");
      try {
        await this.db.clear();
        await this.db.put(META.importing, encodeMeta(true));
        const index = await KeyIndex.build(importChunks(this.db, chunks, this.sync));
        const done: BatchOp[] = [
          { type: "put", key: META.layout, value: encodeMeta(LAYOUT_VERSION) },
          { type: "del", key: META.importing },
        ];
        await writeBatch(this.db, done, this.sync);
        this.state = await stateAround(this.db, index, this.requestIdWindow);
        this.unavailable = undefined;
      } catch (error) {
        this.unavailable = new StoreUnavailableError("a snapshot import failed; import again", { cause: error });
        throw error;
      }
    });
    const done = run
      .catch(() => undefined)
      .then(() => {
        if (this.importing === done) this.importing = undefined;
      });
    this.importing = done;
    return run;
  }

  /** Waits for the batch being written, then closes LevelDB. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.drain();
    this.unavailable = new StoreUnavailableError("closed");
    await this.db.close();
  }

  private applyEntry(entry: LogEntry, applying: ApplyOptions): ApplyResult {
    const { index, request, requestId, sideRecord } = entry;
    if (index <= this.state.appliedIndex) return { status: "ignored", index, reason: "alreadyApplied" };
    try {
      if (sideRecord !== undefined) this.state.writeSideRecord(sideRecord.name, sideRecord.value);
      if (request === undefined) return { status: "ignored", index, reason: "noRequest" };
      return requestId === undefined ? this.execute(index, request, applying) : this.executeOnce(index, request, requestId, applying);
    } catch (error) {
      // A bug, not a rejection: memory may hold half a request, so stop serving.
      this.unavailable = new StoreUnavailableError("apply failed unexpectedly; reopen the store", { cause: error });
      throw error;
    } finally {
      this.state.appliedIndex = index;
    }
  }

  /** Queues a write of what is applied by the time it runs (a group commit, like the WAL's). */
  private scheduleWrite(): void {
    if (this.writeScheduled) return;
    this.writeScheduled = true;
    this.enqueue(() => {
      this.writeScheduled = false;
      // After a failed write, memory is ahead of disk for good: write nothing more.
      return this.unavailable === undefined ? this.write(this.sealed.shift() ?? this.state.takeBatch()) : Promise.resolve();
    }).catch(() => undefined); // the failure is kept in `unavailable` and surfaces on the next call
  }

  /** Applies a request; a request etcd would reject is a result. */
  private execute(index: number, request: Request, applying: ApplyOptions): Exclude<ApplyResult, { status: "duplicate" | "ignored" }> {
    try {
      const { response, events } = applyRequest(this.state, index, request, applying);
      return { status: "applied", index, response, events };
    } catch (error) {
      if (error instanceof MvccError) return { status: "rejected", index, error };
      throw error;
    }
  }

  /**
   * Applies a request that carries a client request id, unless the window
   * holds that id: then the entry changes nothing and answers with the first
   * outcome, rejections included. An id reused for a different request is
   * refused rather than answered with another request's outcome.
   */
  private executeOnce(index: number, request: Request, requestId: string, applying: ApplyOptions): ApplyResult {
    if (!isValidRequestId(requestId)) return { status: "rejected", index, error: new MvccError("requestIdInvalid") };
    const fingerprint = requestFingerprint(request);
    const firstIndex = this.state.requestIds.indexOf(requestId);
    if (firstIndex !== undefined) {
      const first = this.state.requestRecord(firstIndex);
      if (first.fingerprint !== fingerprint) return { status: "rejected", index, error: new MvccError("requestIdReused") };
      return { status: "duplicate", index, first: first.outcome };
    }
    const result = this.execute(index, request, applying);
    const outcome = result.status === "applied" ? { status: result.status, index, response: result.response } : result;
    this.state.rememberRequest({ requestId, fingerprint, outcome });
    return result;
  }

  private async write(ops: BatchOp[]): Promise<void> {
    try {
      await writeBatch(this.db, ops, this.sync);
    } catch (error) {
      // Memory is now ahead of disk; only reopening (which reloads from disk) is safe.
      this.unavailable = new StoreUnavailableError("a LevelDB write failed; reopen the store", { cause: error });
      throw this.unavailable;
    }
    this.state.batchWritten();
  }

  private eventOf(logged: LoggedRevision): WatchEvent {
    const { key, revision } = logged;
    const previous = this.state.index.previous(key, revision);
    const prevKv = previous === undefined || previous.tombstone ? undefined : keyValue({ key, revision: previous }, this.state.value(previous));
    const type = revision.tombstone ? "DELETE" : "PUT";
    const kv = keyValue(logged, revision.tombstone ? EMPTY : this.state.value(revision));
    return prevKv === undefined ? { type, kv } : { type, kv, prevKv };
  }

  private async *snapshotChunks(snapshot: ReturnType<Db["snapshot"]>): AsyncGenerator<Uint8Array> {
    try {
      let entries: Uint8Array[] = [];
      let bytes = 0;
      for (const range of SNAPSHOT_RANGES) {
        for await (const [key, value] of this.db.iterator({ ...range, snapshot })) {
          if (isLayoutEntry(key)) continue;
          entries.push(key, value);
          bytes += key.byteLength + value.byteLength;
          if (bytes >= SNAPSHOT_CHUNK_BYTES) {
            yield encodeSnapshotChunk(entries);
            entries = [];
            bytes = 0;
          }
        }
      }
      if (entries.length > 0) yield encodeSnapshotChunk(entries);
    } finally {
      await snapshot.close();
    }
  }

  private async withSnapshot<T>(read: (snapshot: ReturnType<Db["snapshot"]>) => Promise<T>): Promise<T> {
    const snapshot = this.db.snapshot();
    try {
      return await read(snapshot);
    } finally {
      await snapshot.close();
    }
  }

  /** Runs writers one at a time, in call order. */
  private enqueue<T>(work: () => Promise<T>): Promise<T> {
    const run = this.writeQueue.then(work);
    this.writeQueue = run.catch(() => undefined);
    return run;
  }

  /** Resolves when no batch is being written, so that memory and LevelDB agree, and the store can serve. */
  private async quiesce(): Promise<void> {
    await this.drain();
    this.assertAvailable();
  }

  private async drain(): Promise<void> {
    for (let queue = this.writeQueue; ; queue = this.writeQueue) {
      await queue;
      if (queue === this.writeQueue) return;
    }
  }

  private assertAvailable(): void {
    if (this.unavailable !== undefined) throw this.unavailable;
  }
}
