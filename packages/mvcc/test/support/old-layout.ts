/**
 * Writes a LevelDB directory as the store wrote it before the "k" key space
 * (layout version 0): "r" records holding the value beside the index entry,
 * leases, counters, and no layout marker. Written record by record here, not
 * with the store's code, so that the upgrade is tested against the format
 * itself.
 */
import { ClassicLevel } from "classic-level";
import { Packr } from "msgpackr";

const packr = new Packr({ useRecords: false });

/** One write of the history: a put (with a lease, or 0) or, with `value` undefined, a delete; in a revision of its own unless it is in the previous write's txn. */
export interface OldWrite {
  readonly key: string;
  readonly value?: string;
  readonly lease?: number;
  readonly inPreviousTxn?: boolean;
}

export interface OldLease {
  readonly id: number;
  readonly ttl: number;
  readonly grantedAt: number;
}

/** The newest revision of a live key, as a range should return it. */
export interface ExpectedKey {
  readonly value: string;
  readonly createRevision: number;
  readonly modRevision: number;
  readonly version: number;
  readonly lease: number;
}

const uint64 = (value: number): Buffer => {
  const bytes = Buffer.alloc(8);
  bytes.writeBigUInt64BE(BigInt(value));
  return bytes;
};

const revisionKey = (main: number, sub: number): Buffer => Buffer.concat([Buffer.from("r"), uint64(main), uint64(sub)]);

/**
 * Writes the leases, then the writes as revisions from 2 on, in batches of
 * 5,000 records; returns the live keys as a range would see them.
 */
export async function writeOldLayoutStore(
  dir: string,
  { leases = [], writes, appliedIndex }: { leases?: OldLease[]; writes: OldWrite[]; appliedIndex: number },
): Promise<Map<string, ExpectedKey>> {
  const db = new ClassicLevel<Uint8Array, Uint8Array>(dir, { keyEncoding: "view", valueEncoding: "view" });
  await db.open();
  const live = new Map<string, ExpectedKey>();
  let batch = db.batch();
  for (const { id, ttl, grantedAt } of leases) {
    const key = Buffer.alloc(9);
    key.write("l");
    key.writeBigInt64BE(BigInt(id), 1);
    batch.put(key, packr.pack([ttl, ttl, grantedAt]));
  }
  let main = 1;
  let sub = 0;
  for (const write of writes) {
    [main, sub] = write.inPreviousTxn === true ? [main, sub + 1] : [main + 1, 0];
    const key = Buffer.from(write.key, "latin1");
    if (write.value === undefined) {
      live.delete(write.key);
      batch.put(revisionKey(main, sub), packr.pack([key]));
    } else {
      const before = live.get(write.key);
      const next = {
        value: write.value,
        createRevision: before?.createRevision ?? main,
        modRevision: main,
        version: (before?.version ?? 0) + 1,
        lease: write.lease ?? 0,
      };
      live.set(write.key, next);
      batch.put(revisionKey(main, sub), packr.pack([key, Buffer.from(write.value), next.createRevision, next.version, next.lease]));
    }
    if (batch.length >= 5_000) {
      await batch.write();
      batch = db.batch();
    }
  }
  batch.put(Buffer.from("mrevision"), packr.pack(main));
  batch.put(Buffer.from("mappliedIndex"), packr.pack(appliedIndex));
  await batch.write();
  await db.close();
  return live;
}

/** How many entries each one-byte key space of a closed store holds. */
export async function entriesBySpace(dir: string): Promise<Record<string, number>> {
  const db = new ClassicLevel<Uint8Array, Uint8Array>(dir, { keyEncoding: "view", valueEncoding: "view" });
  await db.open();
  const counts: Record<string, number> = {};
  for await (const key of db.keys()) {
    const space = String.fromCharCode(key[0] ?? 0);
    counts[space] = (counts[space] ?? 0) + 1;
  }
  await db.close();
  return counts;
}
