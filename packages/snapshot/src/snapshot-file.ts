/**
 * A snapshot file: a point-in-time image of a member's state machine plus
 * the Raft metadata it stands for, in one checksummed file.
 *
 * Layout: the magic "RKVSNAP1"; a u32 length and that many bytes of JSON
 * metadata; the state as chunks, each a u32 length and its bytes; a u32 zero
 * ending the chunks; the SHA-256 of everything before it (32 bytes).
 *
 * A file is written under a temporary name, fsynced, renamed into place and
 * its directory fsynced, so a crash leaves either no file or a whole one.
 * Reading verifies the checksum before anything is installed from it.
 */
import { createHash } from "node:crypto";
import { open, readdir, rename, rm, stat, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import type { SnapshotMeta } from "@raftkv/raft";

const MAGIC = Buffer.from("RKVSNAP1");
const DIGEST_BYTES = 32;

/** What a snapshot file says about itself, besides the Raft metadata. */
export interface SnapshotHeader<A = unknown> {
  readonly raft: SnapshotMeta;
  /** Whatever the application needs to restore besides the state chunks (members, say). */
  readonly app: A;
}

export interface SnapshotSummary {
  readonly path: string;
  readonly sha256: string;
  readonly bytes: number;
}

export class SnapshotCorruptError extends Error {
  override readonly name = "SnapshotCorruptError";
  constructor(path: string, reason: string) {
    super(`snapshot ${path} is corrupt: ${reason}`);
  }
}

export function snapshotFileName(meta: Pick<SnapshotMeta, "index" | "term">): string {
  return `${meta.index.toString(16).padStart(16, "0")}-${meta.term.toString(16).padStart(16, "0")}.snap`;
}

/** Writes a snapshot file atomically; the chunks are read once, in order. */
export async function writeSnapshotFile<A>(
  dir: string,
  header: SnapshotHeader<A>,
  chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
): Promise<SnapshotSummary> {
  const path = join(dir, snapshotFileName(header.raft));
  const temporary = `${path}.tmp`;
  const digest = createHash("sha256");
  const file = await open(temporary, "w");
  let bytes = 0;
  const write = async (data: Uint8Array) => {
    digest.update(data);
    await file.write(data);
    bytes += data.byteLength;
  };
  try {
    const json = Buffer.from(JSON.stringify(header));
    await write(MAGIC);
    await write(u32(json.byteLength));
    await write(json);
    for await (const chunk of chunks) {
      if (chunk.byteLength === 0) continue;
      await write(u32(chunk.byteLength));
      await write(chunk);
    }
    await write(u32(0));
    const sha = digest.digest();
    await file.write(sha);
    bytes += sha.byteLength;
    await file.sync();
  } catch (error) {
    await file.close();
    await rm(temporary, { force: true });
    throw error;
  }
  await file.close();
  await rename(temporary, path);
  await syncDirectory(dir);
  return { path, sha256: await checksumOf(path), bytes };
}

/** Reads a whole snapshot file, verifying its checksum, and returns its header. */
export async function verifySnapshotFile<A>(path: string): Promise<SnapshotHeader<A>> {
  const file = await open(path, "r");
  try {
    const { header, chunks } = await openSections<A>(file, path);
    for await (const _ of chunks) {
      // Reading every chunk feeds the digest.
    }
    return header;
  } finally {
    await file.close();
  }
}

/** The stored SHA-256 (the last 32 bytes), without verifying the content. */
export async function checksumOf(path: string): Promise<string> {
  const file = await open(path, "r");
  try {
    const { size } = await file.stat();
    if (size < MAGIC.byteLength + DIGEST_BYTES) throw new SnapshotCorruptError(path, "too short");
    const digest = Buffer.alloc(DIGEST_BYTES);
    await file.read(digest, 0, DIGEST_BYTES, size - DIGEST_BYTES);
    return digest.toString("hex");
  } finally {
    await file.close();
  }
}

/**
 * A verified snapshot file's header and its state chunks. The whole file is
 * checked first, so nothing is installed from a corrupt image.
 */
export async function readSnapshotFile<A>(path: string): Promise<{ header: SnapshotHeader<A>; chunks: AsyncIterable<Uint8Array> }> {
  const header = await verifySnapshotFile<A>(path);
  return { header, chunks: streamChunks(path) };
}

/** The raw bytes of a snapshot file, for shipping it to another member. */
export async function* fileBytes(path: string, chunkBytes = 1 << 20): AsyncGenerator<Uint8Array> {
  const file = await open(path, "r");
  try {
    for (let position = 0; ; ) {
      const buffer = Buffer.alloc(chunkBytes);
      const { bytesRead } = await file.read(buffer, 0, chunkBytes, position);
      if (bytesRead === 0) return;
      position += bytesRead;
      yield buffer.subarray(0, bytesRead);
    }
  } finally {
    await file.close();
  }
}

/** Stores a snapshot file received as raw bytes, then verifies it; a bad one is removed. */
export async function receiveSnapshotFile<A>(
  dir: string,
  bytes: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
): Promise<SnapshotHeader<A> & SnapshotSummary> {
  const temporary = join(dir, `incoming-${process.pid}-${Date.now()}.tmp`);
  const file = await open(temporary, "w");
  try {
    for await (const chunk of bytes) await file.write(chunk);
    await file.sync();
  } finally {
    await file.close();
  }
  try {
    const header = await verifySnapshotFile<A>(temporary);
    const path = join(dir, snapshotFileName(header.raft));
    await rename(temporary, path);
    await syncDirectory(dir);
    return { ...header, path, sha256: await checksumOf(path), bytes: (await stat(path)).size };
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

async function* streamChunks(path: string): AsyncGenerator<Uint8Array> {
  const file = await open(path, "r");
  try {
    const { chunks } = await openSections(file, path);
    yield* chunks;
  } finally {
    await file.close();
  }
}

/** Parses the header, then yields the state chunks; the digest is checked after the last. */
async function openSections<A>(file: FileHandle, path: string): Promise<{ header: SnapshotHeader<A>; chunks: AsyncIterable<Uint8Array> }> {
  const reader = new VerifyingReader(file, path);
  if (!(await reader.read(MAGIC.byteLength)).equals(MAGIC)) throw new SnapshotCorruptError(path, "not a snapshot file");
  const headerLength = (await reader.read(4)).readUInt32BE(0);
  const header = parseHeader<A>(await reader.read(headerLength), path);
  async function* chunks(): AsyncGenerator<Uint8Array> {
    for (;;) {
      const length = (await reader.read(4)).readUInt32BE(0);
      if (length === 0) break;
      yield await reader.read(length);
    }
    await reader.verifyDigest();
  }
  return { header, chunks: chunks() };
}

/** Removes snapshot files other than the newest `keep`, and leftover temporary files. */
export async function pruneSnapshots(dir: string, keep: number): Promise<void> {
  const names = (await readdir(dir)).sort();
  const complete = names.filter((name) => name.endsWith(".snap"));
  const stale = [...names.filter((name) => name.endsWith(".tmp")), ...complete.slice(0, Math.max(0, complete.length - keep))];
  for (const name of stale) await rm(join(dir, name), { force: true });
}

class VerifyingReader {
  private position = 0;
  private readonly digest = createHash("sha256");

  constructor(
    private readonly file: FileHandle,
    private readonly path: string,
  ) {}

  async read(length: number): Promise<Buffer> {
    const buffer = Buffer.alloc(length);
    const { bytesRead } = await this.file.read(buffer, 0, length, this.position);
    if (bytesRead !== length) throw new SnapshotCorruptError(this.path, `truncated at byte ${this.position + bytesRead}`);
    this.position += length;
    this.digest.update(buffer);
    return buffer;
  }

  async verifyDigest(): Promise<void> {
    const stored = Buffer.alloc(DIGEST_BYTES);
    const { bytesRead } = await this.file.read(stored, 0, DIGEST_BYTES, this.position);
    if (bytesRead !== DIGEST_BYTES || !stored.equals(this.digest.digest())) {
      throw new SnapshotCorruptError(this.path, "checksum mismatch");
    }
  }
}

function parseHeader<A>(bytes: Buffer, path: string): SnapshotHeader<A> {
  try {
    const header = JSON.parse(bytes.toString("utf8")) as SnapshotHeader<A>;
    if (typeof header?.raft?.index !== "number") throw new Error("no raft metadata");
    return header;
  } catch (error) {
    throw new SnapshotCorruptError(path, `bad header: ${(error as Error).message}`);
  }
}

function u32(value: number): Buffer {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(value, 0);
  return bytes;
}

async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
