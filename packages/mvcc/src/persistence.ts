/** Reading the state from LevelDB on open, and writing batches to it. */
import type { AbstractIterator } from "abstract-level";
import { StoreUnavailableError } from "./errors.js";
import { KeyIndex, type LoggedRevision } from "./key-index.js";
import { toKeyString } from "./keys.js";
import {
  decodeIndexEntry,
  decodeLease,
  decodeMeta,
  decodeRequestRecord,
  decodeRevision,
  decodeSnapshotChunk,
  encodeMeta,
  INDEX_ENTRIES,
  INDEX_ENTRY_TEXT,
  indexEntry,
  isLayoutEntry,
  LAYOUT_VERSION,
  LEASES,
  META,
  REQUEST_IDS,
  requestIdKey,
  REVISIONS,
  SIDE_RECORDS,
  sideRecordName,
} from "./layout.js";
import { LeaseTable } from "./leases.js";
import { RequestIdWindow } from "./request-ids.js";
import { MvccState, type BatchOp, type Db } from "./state.js";

/**
 * Reads the whole state from LevelDB: counters, leases, request ids, side
 * records, and the index of every stored revision from the "k" space, which
 * a store written before it gets first (see writeIndexEntries).
 */
export async function loadState(db: Db, requestIdWindow: number): Promise<MvccState> {
  if ((await db.get(META.importing)) !== undefined) {
    throw new StoreUnavailableError("an interrupted snapshot import left the store incomplete; import again");
  }
  if (decodeMeta(await db.get(META.layout)) < LAYOUT_VERSION) await writeIndexEntries(db);
  return stateAround(db, await KeyIndex.build(storedIndexEntries(db)), requestIdWindow);
}

/**
 * The upgrade of a store written before the "k" space: the "k" record of
 * every "r" record, a batch at a time, then the layout marker. Until the
 * marker is written the upgrade is not done, so an open after a crash
 * midway starts it over, clearing what the last attempt wrote. LevelDB
 * replays its log in order after a crash, so a marker that survived means
 * every batch before it did too.
 */
async function writeIndexEntries(db: Db): Promise<void> {
  await db.clear(INDEX_ENTRIES);
  for await (const entries of entryBatches(db.iterator(REVISIONS))) {
    const ops = entries.map(([key, value]): BatchOp => {
      const logged = loggedRevision(key, value);
      return { type: "put", ...indexEntry(logged.key, logged.revision) };
    });
    await writeBatch(db, ops, false);
  }
  await db.put(META.layout, encodeMeta(LAYOUT_VERSION));
}

/** The state of a store whose stored revisions `index` holds already; the rest is read from LevelDB. */
export async function stateAround(db: Db, index: KeyIndex, requestIdWindow: number): Promise<MvccState> {
  const leases = new LeaseTable();
  for await (const [key, value] of db.iterator(LEASES)) leases.set(decodeLease(key, value));
  const state = new MvccState(db, index, leases, await loadRequestIds(db, requestIdWindow));
  state.revision = Math.max(1, decodeMeta(await db.get(META.revision)));
  state.compactRevision = decodeMeta(await db.get(META.compactRevision));
  state.appliedIndex = decodeMeta(await db.get(META.appliedIndex));
  for await (const [key, value] of db.iterator(SIDE_RECORDS)) state.sideRecords.set(sideRecordName(key), value);
  for (const [key, lease] of index.leased()) leases.move(key, 0, lease);
  return state;
}

/**
 * Writes a snapshot's chunks to LevelDB, a batch each, with the "k" record
 * of each revision, and yields the revisions each held, for KeyIndex.build:
 * an import indexes what it writes as it goes instead of reading every
 * revision back afterwards. A snapshot is the store in key order, so its
 * revisions come in revision order. The caller writes the layout marker
 * once every chunk is in.
 */
export async function* importChunks(db: Db, chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, sync: boolean): AsyncGenerator<LoggedRevision[]> {
  for await (const chunk of chunks) {
    const entries = decodeSnapshotChunk(chunk);
    const ops: BatchOp[] = [];
    const revisions: LoggedRevision[] = [];
    for (let i = 0; i + 1 < entries.length; i += 2) {
      const key = entries[i]!;
      const value = entries[i + 1]!;
      if (isLayoutEntry(key)) continue;
      ops.push({ type: "put", key, value });
      if (key[0] !== REVISIONS.gte[0]) continue;
      const logged = loggedRevision(key, value);
      ops.push({ type: "put", ...indexEntry(logged.key, logged.revision) });
      revisions.push(logged);
    }
    await writeBatch(db, ops, sync);
    yield revisions;
  }
}

/** What the key index keeps of an "r" record. */
function loggedRevision(dbKey: Uint8Array, dbValue: Uint8Array): LoggedRevision {
  const decoded = decodeRevision(dbKey, dbValue);
  return { key: toKeyString(decoded.key), revision: decoded.revision };
}

/** Entries read from LevelDB per step of a scan: one promise per batch rather than per entry. */
const LOAD_BATCH = 1000;

/** The entries of a key space in key order, a batch at a time. */
async function* entryBatches<K, V>(iterator: AbstractIterator<Db, K, V>): AsyncGenerator<[K, V][]> {
  try {
    for (let entries = await iterator.nextv(LOAD_BATCH); entries.length > 0; entries = await iterator.nextv(LOAD_BATCH)) {
      yield entries;
    }
  } finally {
    await iterator.close();
  }
}

/** The stored revisions in revision order, from their "k" records, read as text (see indexEntry). */
async function* storedIndexEntries(db: Db): AsyncGenerator<LoggedRevision[]> {
  const iterator = db.iterator<string, string>({ ...INDEX_ENTRY_TEXT, keyEncoding: "utf8", valueEncoding: "utf8" });
  for await (const entries of entryBatches(iterator)) yield entries.map(([key, value]) => decodeIndexEntry(key, value));
}

/**
 * The window's ids in apply order, which is their key order. A store opened
 * with a smaller window than it was written with drops its oldest ids here.
 */
async function loadRequestIds(db: Db, capacity: number): Promise<RequestIdWindow> {
  const window = new RequestIdWindow(capacity);
  const evicted: number[] = [];
  for await (const [key, value] of db.iterator(REQUEST_IDS)) {
    const { requestId, outcome } = decodeRequestRecord(key, value);
    evicted.push(...window.add(requestId, outcome.index));
  }
  if (evicted.length > 0) await db.batch(evicted.map((index) => ({ type: "del" as const, key: requestIdKey(index) })));
  return window;
}

/**
 * Writes operations atomically. A chained batch hands each operation to
 * LevelDB as it is added, which costs far less than the checks
 * abstract-level makes of an array batch (twice the apply throughput).
 */
export async function writeBatch(db: Db, ops: readonly BatchOp[], sync: boolean): Promise<void> {
  const batch = db.batch();
  for (const op of ops) {
    if (op.type === "put") batch.put(op.key, op.value);
    else batch.del(op.key);
  }
  await batch.write({ sync });
}
