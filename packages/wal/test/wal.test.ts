/** The WAL on real files with real fsync: recovery, conflicts, segments, damage. */
import assert from "node:assert/strict";
import { readFile, readdir, stat, truncate, unlink, writeFile, appendFile } from "node:fs/promises";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { EMPTY_HARD_STATE } from "@raftkv/raft";
import { Wal, WalClosedError, WalCorruptionError, type WalOptions } from "../src/index.js";
import { RecordType } from "../src/codec.js";
import { scanSegment } from "../src/segment.js";
import { entries, entry, plain, plainEntries, recoveredIndexes, snapshotAt, temporaryDir } from "./support/fixtures.js";

async function reopen(wal: Wal, dir: string, options?: WalOptions): Promise<Wal> {
  await wal.close();
  return Wal.open(dir, options);
}

async function segmentFiles(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((name) => name.endsWith(".wal")).sort();
}

/** Saves each entry on its own and returns the file size after each save. */
async function saveOneByOne(wal: Wal, file: string, first: number, last: number): Promise<number[]> {
  const sizes: number[] = [];
  for (let index = first; index <= last; index++) {
    await wal.save({ entries: [entry(index, 1)] });
    sizes.push((await stat(file)).size);
  }
  return sizes;
}

describe("an empty directory", () => {
  test("is created and recovers as an empty log, before and after reopening", async () => {
    const dir = join(await temporaryDir(after), "nested", "wal");
    let wal = await Wal.open(dir);
    const empty = { hardState: EMPTY_HARD_STATE, snapshot: undefined, entries: [] };
    assert.deepEqual(plain(wal.recovered), empty);
    assert.equal(wal.recovered.tornTail, undefined);
    assert.deepEqual(await segmentFiles(dir), ["0000000000000001.wal"]);
    wal = await reopen(wal, dir);
    assert.deepEqual(plain(wal.recovered), empty);
    await wal.close();
  });
});

describe("recovery", () => {
  test("returns the entries and the latest hard state", async () => {
    const dir = await temporaryDir(after);
    let wal = await Wal.open(dir);
    await wal.save({ entries: entries(1, 3, 1), hardState: { term: 1, vote: 2, commit: 1 } });
    await wal.save({ entries: entries(4, 6, 2), hardState: { term: 2, vote: 3, commit: 4 } });
    await wal.save({ hardState: { term: 3, vote: 0, commit: 5 } });
    wal = await reopen(wal, dir);
    assert.deepEqual(
      plain(wal.recovered),
      plain({
        hardState: { term: 3, vote: 0, commit: 5 },
        snapshot: undefined,
        entries: [...entries(1, 3, 1), ...entries(4, 6, 2)],
      }),
    );
    await wal.close();
  });

  test("replaces a conflicting suffix, also across reopening", async () => {
    const dir = await temporaryDir(after);
    let wal = await Wal.open(dir);
    await wal.save({ entries: entries(1, 10, 1) });
    await wal.save({ entries: entries(6, 8, 2) });
    wal = await reopen(wal, dir);
    assert.deepEqual(plainEntries(wal.recovered.entries), plainEntries([...entries(1, 5, 1), ...entries(6, 8, 2)]));
    await wal.save({ entries: entries(3, 4, 3) });
    await wal.save({ entries: entries(5, 5, 3) });
    wal = await reopen(wal, dir);
    assert.deepEqual(plainEntries(wal.recovered.entries), plainEntries([...entries(1, 2, 1), ...entries(3, 5, 3)]));
    await wal.close();
  });

  test("keeps the entries after a snapshot taken locally and drops those it covers", async () => {
    const dir = await temporaryDir(after);
    let wal = await Wal.open(dir);
    await wal.save({ entries: entries(1, 10, 1), hardState: { term: 1, vote: 1, commit: 8 } });
    await wal.saveSnapshot(snapshotAt(7, 1));
    wal = await reopen(wal, dir);
    assert.deepEqual(
      plain(wal.recovered),
      plain({
        hardState: { term: 1, vote: 1, commit: 8 },
        snapshot: snapshotAt(7, 1),
        entries: entries(8, 10, 1),
      }),
    );
    await wal.close();
  });

  test("replaces the whole log with a snapshot installed from the leader", async () => {
    const dir = await temporaryDir(after);
    let wal = await Wal.open(dir);
    await wal.save({ entries: entries(1, 10, 1) });
    await wal.save({ snapshot: snapshotAt(5, 2), entries: entries(6, 7, 3), hardState: { term: 3, vote: 0, commit: 5 } });
    wal = await reopen(wal, dir);
    assert.deepEqual(
      plain(wal.recovered),
      plain({
        hardState: { term: 3, vote: 0, commit: 5 },
        snapshot: snapshotAt(5, 2),
        entries: entries(6, 7, 3),
      }),
    );
    await wal.close();
  });
});

describe("damage", () => {
  test("a torn tail is cut off and reported; the log goes on after it", async () => {
    const dir = await temporaryDir(after);
    const file = join(dir, "0000000000000001.wal");
    let wal = await Wal.open(dir);
    const sizes = await saveOneByOne(wal, file, 1, 5);
    await wal.close();
    const endOfFour = sizes[3] as number;
    // A crash in the middle of writing entry 5, on a file system that had
    // already extended the file: half a record, then zeros.
    await truncate(file, endOfFour + Math.floor(((sizes[4] as number) - endOfFour) / 2));
    await appendFile(file, Buffer.alloc(4096));
    wal = await Wal.open(dir);
    assert.deepEqual(recoveredIndexes(wal.recovered), [1, 2, 3, 4]);
    assert.equal(wal.recovered.tornTail?.file, file);
    assert.equal(wal.recovered.tornTail?.offset, endOfFour);
    assert.equal((await stat(file)).size, endOfFour);
    await wal.save({ entries: [entry(5, 2)] });
    wal = await reopen(wal, dir);
    assert.deepEqual(recoveredIndexes(wal.recovered), [1, 2, 3, 4, 5]);
    assert.equal(wal.recovered.entries[4]?.term, 2);
    assert.equal(wal.recovered.tornTail, undefined);
    await wal.close();
  });

  test("a short frame header at the very end is a torn tail", async () => {
    const dir = await temporaryDir(after);
    const file = join(dir, "0000000000000001.wal");
    let wal = await Wal.open(dir);
    const sizes = await saveOneByOne(wal, file, 1, 3);
    await wal.close();
    await truncate(file, (sizes[1] as number) + 5);
    wal = await Wal.open(dir);
    assert.deepEqual(recoveredIndexes(wal.recovered), [1, 2]);
    await wal.close();
  });

  test("a damaged record followed by valid ones stops start-up, naming file and offset", async () => {
    const dir = await temporaryDir(after);
    const file = join(dir, "0000000000000001.wal");
    const wal = await Wal.open(dir);
    const sizes = await saveOneByOne(wal, file, 1, 10);
    await wal.close();
    const recordOfFive = sizes[3] as number;
    await flipByte(file, recordOfFive + 20);
    const error = await Wal.open(dir).then(
      () => undefined,
      (reason: unknown) => reason,
    );
    assert.ok(error instanceof WalCorruptionError, `expected a WalCorruptionError, got ${String(error)}`);
    assert.equal(error.file, file);
    assert.equal(error.offset, recordOfFive);
    assert.match(error.message, new RegExp(`${file}.*byte offset ${recordOfFive}`));
  });

  test("damage at the end of a segment that is not the last stops start-up", async () => {
    const dir = await temporaryDir(after);
    const wal = await Wal.open(dir, { segmentBytes: 1024 });
    for (let index = 1; index <= 40; index++) await wal.save({ entries: [entry(index, 1)] });
    await wal.close();
    const [first] = await segmentFiles(dir);
    const path = join(dir, first as string);
    const size = (await stat(path)).size;
    await flipByte(path, size - 1);
    await assert.rejects(Wal.open(dir, { segmentBytes: 1024 }), (error: unknown) => {
      assert.ok(error instanceof WalCorruptionError);
      assert.equal(error.file, path);
      return true;
    });
  });

  test("a missing segment in the middle stops start-up", async () => {
    const dir = await temporaryDir(after);
    const wal = await Wal.open(dir, { segmentBytes: 512 });
    for (let index = 1; index <= 40; index++) await wal.save({ entries: [entry(index, 1)] });
    await wal.close();
    const files = await segmentFiles(dir);
    assert.ok(files.length >= 3);
    await unlink(join(dir, files[1] as string));
    await assert.rejects(Wal.open(dir, { segmentBytes: 512 }), WalCorruptionError);
  });

  test("a leftover temporary segment from a crash mid-roll-over is removed", async () => {
    const dir = await temporaryDir(after);
    let wal = await Wal.open(dir);
    await wal.save({ entries: entries(1, 3, 1) });
    await wal.close();
    await writeFile(join(dir, "0000000000000002.wal.tmp"), Buffer.from("half a header"));
    wal = await Wal.open(dir);
    assert.deepEqual(recoveredIndexes(wal.recovered), [1, 2, 3]);
    assert.deepEqual(await readdir(dir), ["0000000000000001.wal"]);
    await wal.close();
  });
});

describe("segments", () => {
  test("roll over at the configured size and recover across files", async () => {
    const dir = await temporaryDir(after);
    const options = { segmentBytes: 2048 };
    let wal = await Wal.open(dir, options);
    for (let first = 1; first <= 200; first += 5) await wal.save({ entries: entries(first, first + 4, 1) });
    const files = await segmentFiles(dir);
    assert.ok(files.length > 5, `expected several segments, got ${files.length}`);
    for (const name of files.slice(0, -1)) {
      const bytes = await readFile(join(dir, name));
      const lastSave = 5 * (9 + 17 + 300);
      assert.ok(bytes.length < options.segmentBytes + lastSave, `${name} has ${bytes.length} bytes`);
    }
    wal = await reopen(wal, dir, options);
    assert.deepEqual(plainEntries(wal.recovered.entries), plainEntries(entries(1, 200, 1)));
    await wal.close();
  });

  test("release deletes only segments whose entries all lie below the snapshot", async () => {
    const dir = await temporaryDir(after);
    const options = { segmentBytes: 2048 };
    let wal = await Wal.open(dir, options);
    await wal.save({ hardState: { term: 1, vote: 3, commit: 0 } });
    for (let first = 1; first <= 200; first += 5) await wal.save({ entries: entries(first, first + 4, 1) });
    const before = await segmentFiles(dir);

    await wal.releaseTo(150);
    assert.deepEqual(await segmentFiles(dir), before, "nothing is released before a snapshot covers it");

    await wal.saveSnapshot(snapshotAt(120, 1));
    const entriesByFile = await entryIndexesByFile(dir);
    await wal.releaseTo(1_000);
    const remaining = await segmentFiles(dir);
    assert.ok(remaining.length < before.length, "some segments were released");
    for (const name of before.filter((name) => !remaining.includes(name))) {
      const indexes = entriesByFile.get(name) ?? [];
      assert.ok(
        indexes.every((index) => index < 120),
        `${name} held entries ${indexes.join(",")}`,
      );
    }
    const kept = remaining.flatMap((name) => entriesByFile.get(name) ?? []);
    assert.ok(kept.includes(120), "the segment holding the snapshot's own entry stays");

    wal = await reopen(wal, dir, options);
    assert.deepEqual(
      plain(wal.recovered),
      plain({
        hardState: { term: 1, vote: 3, commit: 0 },
        snapshot: snapshotAt(120, 1),
        entries: entries(121, 200, 1),
      }),
    );
    await wal.close();
  });
});

describe("saves", () => {
  test("refuse a gap, entries out of order, or entries the snapshot covers, and the log stays usable", async () => {
    const dir = await temporaryDir(after);
    let wal = await Wal.open(dir);
    await wal.save({ entries: entries(1, 5, 1) });
    await assert.rejects(wal.save({ entries: [entry(7, 1)] }), /gap after 5/);
    await assert.rejects(wal.save({ entries: [entry(6, 1), entry(8, 1)] }), /consecutive/);
    await wal.saveSnapshot(snapshotAt(3, 1));
    await assert.rejects(wal.save({ entries: [entry(3, 2)] }), /covered by the snapshot/);
    await assert.rejects(wal.saveSnapshot(snapshotAt(9, 1)), /beyond the last entry/);
    await wal.save({ entries: [entry(6, 1)] });
    wal = await reopen(wal, dir);
    assert.deepEqual(recoveredIndexes(wal.recovered), [4, 5, 6]);
    await wal.close();
  });

  test("fail after the log is closed", async () => {
    const dir = await temporaryDir(after);
    const wal = await Wal.open(dir);
    await wal.close();
    await assert.rejects(wal.save({ entries: [entry(1, 1)] }), WalClosedError);
  });
});

/** Which entry indexes each segment file holds, from its records. */
async function entryIndexesByFile(dir: string): Promise<Map<string, number[]>> {
  const result = new Map<string, number[]>();
  for (const name of await segmentFiles(dir)) {
    const { records } = scanSegment(await readFile(join(dir, name)));
    result.set(
      name,
      records.flatMap(({ record }) => (record.type === RecordType.Entry ? [record.entry.index] : [])),
    );
  }
  return result;
}

async function flipByte(path: string, offset: number): Promise<void> {
  const bytes = await readFile(path);
  bytes[offset] = (bytes[offset] as number) ^ 0x5a;
  await writeFile(path, bytes);
}
