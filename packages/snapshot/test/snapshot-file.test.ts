import assert from "node:assert/strict";
import { mkdtemp, open, readdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { SnapshotCorruptError, fileBytes, pruneSnapshots, readSnapshotFile, receiveSnapshotFile, verifySnapshotFile, writeSnapshotFile } from "../src/index.js";

const header = { raft: { index: 42, term: 3, conf: { voters: [1, 2, 3], learners: [] } }, app: { note: "members" } };
const chunks = [Uint8Array.of(1, 2, 3), new Uint8Array(100_000).fill(7), Uint8Array.of(9)];

async function scratch(): Promise<string> {
  return mkdtemp(join(tmpdir(), "raftkv-snap-"));
}

test("a written file reads back whole, header first", async () => {
  const dir = await scratch();
  const summary = await writeSnapshotFile(dir, header, chunks);
  const read = await readSnapshotFile(summary.path);
  assert.deepEqual(read.header, header);
  const back: Uint8Array[] = [];
  for await (const chunk of read.chunks) back.push(chunk);
  assert.deepEqual(
    back.map((chunk) => Buffer.from(chunk)),
    chunks.map((chunk) => Buffer.from(chunk)),
  );
  assert.deepEqual(
    (await readdir(dir)).filter((name) => name.endsWith(".tmp")),
    [],
    "no temporary file is left",
  );
});

test("a flipped byte anywhere or a truncation is refused before anything is read out", async () => {
  const dir = await scratch();
  const summary = await writeSnapshotFile(dir, header, chunks);
  for (const position of [10, 5_000, summary.bytes - 5]) {
    const copy = join(dir, `copy-${position}.snap`);
    const bytes = Buffer.concat(await collect(fileBytes(summary.path)));
    bytes[position] = (bytes[position] ?? 0) ^ 0xff;
    await writeFile(copy, bytes);
    await assert.rejects(verifySnapshotFile(copy), SnapshotCorruptError, `byte ${position}`);
  }
  const truncated = join(dir, "truncated.snap");
  const bytes = Buffer.concat(await collect(fileBytes(summary.path)));
  await writeFile(truncated, bytes.subarray(0, bytes.length - 100));
  await assert.rejects(readSnapshotFile(truncated), SnapshotCorruptError);
});

test("a streamed file is stored under its own name once verified; a corrupt one is dropped", async () => {
  const source = await scratch();
  const target = await scratch();
  const summary = await writeSnapshotFile(source, header, chunks);
  const received = await receiveSnapshotFile(target, fileBytes(summary.path, 4096));
  assert.equal(received.sha256, summary.sha256);
  assert.equal(received.raft.index, 42);

  const damaged = Buffer.concat(await collect(fileBytes(summary.path)));
  damaged[200] = (damaged[200] ?? 0) ^ 1;
  await assert.rejects(receiveSnapshotFile(target, [damaged]), SnapshotCorruptError);
  assert.deepEqual((await readdir(target)).sort(), [received.path.split("/").pop()]);
});

test("pruning keeps the newest files and removes leftovers", async () => {
  const dir = await scratch();
  for (const index of [1, 2, 3]) await writeSnapshotFile(dir, { ...header, raft: { ...header.raft, index } }, chunks);
  await (await open(join(dir, "half-written.tmp"), "w")).close();
  await pruneSnapshots(dir, 2);
  const left = (await readdir(dir)).sort();
  assert.equal(left.length, 2);
  assert.ok(left.every((name) => name.endsWith(".snap")));
  assert.match(left[1]!, /^0+3-/);
});

async function collect(source: AsyncIterable<Uint8Array>): Promise<Uint8Array[]> {
  const all: Uint8Array[] = [];
  for await (const chunk of source) all.push(chunk);
  return all;
}
