/**
 * The few file-system operations the WAL needs, as an interface, so that the
 * same WAL code runs on the real disk and on {@link SimDisk}, which models
 * what a power loss keeps.
 */
import fs, { constants } from "node:fs";
import { mkdir, open, readFile, readdir, rename, unlink } from "node:fs/promises";

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

/**
 * A log file by its descriptor, through node:fs's callback functions: each
 * call costs one promise of ours, where a `FileHandle` method runs through
 * several async layers of Node's own (seven promises per write).
 */
class NodeFile implements WalFile {
  constructor(private readonly fd: number) {}

  write(data: Uint8Array, position: number): Promise<void> {
    return new Promise((resolve, reject) => {
      // A regular-file write may still come back short (a full disk, a signal).
      const writeFrom = (done: number): void => {
        fs.write(this.fd, data, done, data.byteLength - done, position + done, (error, bytesWritten) => {
          if (error) reject(error);
          else if (done + bytesWritten < data.byteLength) writeFrom(done + bytesWritten);
          else resolve();
        });
      };
      writeFrom(0);
    });
  }

  datasync(): Promise<void> {
    return settled((callback) => fs.fdatasync(this.fd, callback));
  }

  /** A plain write is durable on its own: the file was opened with O_DSYNC. */
  writeDurably(data: Uint8Array, position: number): Promise<void> {
    return this.write(data, position);
  }

  truncate(length: number): Promise<void> {
    return settled((callback) => fs.ftruncate(this.fd, length, callback));
  }

  close(): Promise<void> {
    return settled((callback) => fs.close(this.fd, callback));
  }
}

/** A promise for one node:fs callback call that yields nothing. */
function settled(call: (callback: (error: NodeJS.ErrnoException | null) => void) => void): Promise<void> {
  return new Promise((resolve, reject) => call((error) => (error ? reject(error) : resolve())));
}

function openFile(path: string, flags: number): Promise<NodeFile> {
  return new Promise((resolve, reject) => fs.open(path, flags, (error, fd) => (error ? reject(error) : resolve(new NodeFile(fd)))));
}

/** The real disk, through node:fs/promises. */
export const nodeFileSystem: WalFileSystem = {
  async mkdir(dir) {
    await mkdir(dir, { recursive: true });
  },
  readdir: (dir) => readdir(dir),
  readFile: (path) => readFile(path),
  create: (path) => openFile(path, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | DSYNC),
  openExisting: (path) => openFile(path, constants.O_RDWR | DSYNC),
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
