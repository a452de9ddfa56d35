import type { AbstractLevel } from "abstract-level";
import type { KeyIndex, KeyRevision } from "./key-index.js";
import type { KeyString } from "./keys.js";
import {
  decodeRequestRecord,
  decodeValue,
  encodeLease,
  encodeMeta,
  encodeRequestRecord,
  encodeRevision,
  indexEntry,
  indexEntryKey,
  leaseKey,
  META,
  sideRecordKey,
  requestIdKey,
  revisionKey,
  type RequestRecord,
} from "./layout.js";
import type { LeaseTable } from "./leases.js";
import type { RequestIdWindow } from "./request-ids.js";
import type { LeaseRecord } from "./types.js";

/** Any abstract-level database with binary keys and values (see database.ts). */
export type Db = AbstractLevel<string | Buffer | Uint8Array, Uint8Array, Uint8Array>;

export type BatchOp = { readonly type: "put"; readonly key: Uint8Array; readonly value: Uint8Array } | { readonly type: "del"; readonly key: Uint8Array };

/** The values and request records of one batch, served from memory until the batch is in LevelDB. */
interface BatchInMemory {
  readonly values: Map<KeyRevision, Uint8Array>;
  readonly requests: Map<number, RequestRecord>;
}

const emptyBatch = (): BatchInMemory => ({ values: new Map(), requests: new Map() });
const valuesOf = (batch: BatchInMemory): Map<KeyRevision, Uint8Array> => batch.values;
const requestsOf = (batch: BatchInMemory): Map<number, RequestRecord> => batch.requests;

/** What the newest of `batches` holding `key` holds for it. */
function findUnwritten<K, V>(batches: readonly BatchInMemory[], mapOf: (batch: BatchInMemory) => Map<K, V>, key: K): V | undefined {
  for (let i = batches.length - 1; i >= 0; i--) {
    const found = mapOf(batches[i] as BatchInMemory).get(key);
    if (found !== undefined) return found;
  }
  return undefined;
}

/**
 * The replicated state: the in-memory index, lease table and request id
 * window, the counters, and the LevelDB writes not yet made. Changes reach
 * memory at once and LevelDB when their batch is written; until then the
 * values and request records written are served from memory, so that reads
 * always see memory's state. `unwritten` holds those batches oldest first:
 * the ones taken for writing, in the order they are written (usually one;
 * one more when a snapshot sealed a batch behind it), and last the one
 * collecting what is applied now.
 */
export class MvccState {
  revision = 1;
  compactRevision = 0;
  appliedIndex = 0;
  private readonly unwritten: BatchInMemory[] = [emptyBatch()];
  private ops: BatchOp[] = [];
  private compactRevisionChanged = false;
  /** The side records by name (see LogEntry.sideRecord): few and small, so all in memory. */
  readonly sideRecords = new Map<string, Uint8Array>();

  constructor(
    private readonly db: Db,
    readonly index: KeyIndex,
    readonly leases: LeaseTable,
    readonly requestIds: RequestIdWindow,
  ) {}

  /** The value stored at a revision the index holds. */
  value(revision: KeyRevision): Uint8Array {
    const unwritten = findUnwritten(this.unwritten, valuesOf, revision);
    if (unwritten !== undefined) return unwritten;
    const stored = this.db.getSync(revisionKey(revision.main, revision.sub));
    if (stored === undefined) {
      throw new Error(`mvcc: revision ${revision.main}.${revision.sub} is indexed but not stored`);
    }
    return decodeValue(stored);
  }

  writeRevision(key: Uint8Array, keyString: KeyString, revision: KeyRevision, value: Uint8Array): void {
    this.index.append(keyString, revision);
    this.collecting().values.set(revision, value);
    this.ops.push({ type: "put", key: revisionKey(revision.main, revision.sub), value: encodeRevision(key, revision, value) });
    this.ops.push({ type: "put", ...indexEntry(keyString, revision) });
  }

  compact(atRevision: number): void {
    for (const { revision } of this.index.compact(atRevision)) {
      for (const batch of this.unwritten) batch.values.delete(revision);
      this.ops.push({ type: "del", key: revisionKey(revision.main, revision.sub) });
      this.ops.push({ type: "del", key: indexEntryKey(revision) });
    }
    this.compactRevision = atRevision;
    this.compactRevisionChanged = true;
  }

  writeLease(record: LeaseRecord): void {
    this.leases.set(record);
    this.ops.push({ type: "put", key: leaseKey(record.id), value: encodeLease(record) });
  }

  deleteLease(id: number): void {
    this.ops.push({ type: "del", key: leaseKey(id) });
  }

  writeSideRecord(name: string, value: Uint8Array): void {
    this.sideRecords.set(name, value);
    this.ops.push({ type: "put", key: sideRecordKey(name), value });
  }

  /** Remembers how the entry that carried a client request id ended; forgets the ids the window pushes out. */
  rememberRequest(record: RequestRecord): void {
    const { index } = record.outcome;
    this.collecting().requests.set(index, record);
    this.ops.push({ type: "put", key: requestIdKey(index), value: encodeRequestRecord(record) });
    for (const evicted of this.requestIds.add(record.requestId, index)) {
      for (const batch of this.unwritten) batch.requests.delete(evicted);
      this.ops.push({ type: "del", key: requestIdKey(evicted) });
    }
  }

  /** The record of the entry at `index`, whose request id the window holds. */
  requestRecord(index: number): RequestRecord {
    const unwritten = findUnwritten(this.unwritten, requestsOf, index);
    if (unwritten !== undefined) return unwritten;
    const stored = this.db.getSync(requestIdKey(index));
    if (stored === undefined) throw new Error(`mvcc: the request id of entry ${index} is remembered but its record is not stored`);
    return decodeRequestRecord(requestIdKey(index), stored);
  }

  /**
   * Everything to write for what was applied since the last call, counters
   * included; its values are served from memory until batchWritten.
   */
  takeBatch(): BatchOp[] {
    const ops = this.ops;
    this.unwritten.push(emptyBatch());
    ops.push({ type: "put", key: META.appliedIndex, value: encodeMeta(this.appliedIndex) });
    ops.push({ type: "put", key: META.revision, value: encodeMeta(this.revision) });
    if (this.compactRevisionChanged) {
      ops.push({ type: "put", key: META.compactRevision, value: encodeMeta(this.compactRevision) });
    }
    this.ops = [];
    this.compactRevisionChanged = false;
    return ops;
  }

  /** Called once the oldest batch taken is in LevelDB: its values are read from there from now on. */
  batchWritten(): void {
    this.unwritten.shift();
  }

  private collecting(): BatchInMemory {
    return this.unwritten[this.unwritten.length - 1] as BatchInMemory;
  }
}
