/**
 * The few file-system operations the WAL needs, as an interface, so that the
 * same WAL code runs on the real disk and on {@link SimDisk}, which models
 * what a power loss keeps.
 */
import { constants } from "node:fs";
import { mkdir, open, readFile, readdir, rename, unlink, type FileHandle } from "node:fs/promises";

export interface WalFileSystem {
  /** Creates the directory and any missing parents; succeeds if it exists. */
  mkdir(dir: string): Promise<void>;
  readdir(dir: string): Promise<string[]>;
  readFile(path: string): Promise<Buffer>;
  /** Creates an empty file, truncating any file of that name. */
  create(path: string): Promise<WalFile>;
  /** Opens an existing file for writing in place. */
  openExisting(path: string): Promise<WalFile>;
  rename(from: string, to: string): Promise<void>;
  unlink(path: string): Promise<void>;
  /** Makes creations, renames and removals in `dir` durable. */
  syncDir(dir: string): Promise<void>;
}

export interface WalFile {
  /** Writes all of `data` at `position`. */
  write(data: Uint8Array, position: number): Promise<void>;
  /** Returns once everything written so far is durable, file size included. */
  datasync(): Promise<void>;
  /** Writes all of `data` at `position` and returns once it is durable: a write and a datasync in one. */
  writeDurably(data: Uint8Array, position: number): Promise<void>;
  truncate(length: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * Log files are opened with O_DSYNC: each write returns once its data (and
 * the file size) is durable, as if followed by fdatasync, in one trip to the
 * thread pool instead of two. Each trip costs a wake-up of a pool thread and
 * another of the event loop, which on a busy machine is most of a save.
 */
const DSYNC = constants.O_DSYNC;

class NodeFile implements WalFile {
  constructor(private readonly handle: FileHandle) {}

  async write(data: Uint8Array, position: number): Promise<void> {
    // A regular-file write may still come back short (a full disk, a signal).
    let written = 0;
    while (written < data.byteLength) {
      const { bytesWritten } = await this.handle.write(data, written, data.byteLength - written, position + written);
      written += bytesWritten;
    }
  }

  datasync(): Promise<void> {
    return this.handle.datasync();
  }

  /** A plain write is durable on its own: the file was opened with O_DSYNC. */
  writeDurably(data: Uint8Array, position: number): Promise<void> {
    return this.write(data, position);
  }

  truncate(length: number): Promise<void> {
    return this.handle.truncate(length);
  }

  close(): Promise<void> {
    return this.handle.close();
  }
}

/** The real disk, through node:fs/promises. */
export const nodeFileSystem: WalFileSystem = {
  async mkdir(dir) {
    await mkdir(dir, { recursive: true });
  },
  readdir: (dir) => readdir(dir),
  readFile: (path) => readFile(path),
  create: async (path) => new NodeFile(await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | DSYNC)),
  openExisting: async (path) => new NodeFile(await open(path, constants.O_RDWR | DSYNC)),
  rename: (from, to) => rename(from, to),
  unlink: (path) => unlink(path),
  async syncDir(dir) {
    const handle = await open(dir, "r");
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  },
};
