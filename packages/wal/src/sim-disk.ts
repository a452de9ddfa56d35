/**
 * An in-memory disk that loses what a power failure loses. Tests and the
 * Raft simulator run the real WAL on a {@link SimDisk.mount} of it and call
 * {@link SimDisk.crash}.
 *
 * The model: file contents become durable on datasync; creations, renames
 * and removals become durable when their directory is synced. A crash
 * reverts each directory to its last synced listing and each surviving file
 * to its last synced contents; with `tornWrites`, a file also keeps a random
 * prefix of its unsynced writes in order, the last one cut at a random byte.
 * Directories themselves are durable as soon as they are made.
 */
import { dirname } from "node:path";
import { SeededRng } from "@raftkv/raft";
import type { WalFile, WalFileSystem } from "./fs.js";

export interface SimDiskOptions {
  /** Seeds what a torn crash keeps, so a failing run replays exactly. */
  readonly seed?: number;
  readonly tornWrites?: boolean;
}

type Change = { readonly kind: "write"; readonly data: Uint8Array; readonly position: number } | { readonly kind: "truncate"; readonly length: number };

/** A file's contents, which survive renames and outlive their names while open. */
class Inode {
  private bytes: Uint8Array = new Uint8Array(0);
  private length = 0;
  private synced: Uint8Array = new Uint8Array(0);
  /** Changes since the last sync, in order. */
  private unsynced: Change[] = [];

  contents(): Uint8Array {
    return this.bytes.slice(0, this.length);
  }

  change(change: Change): void {
    this.unsynced.push(change);
    this.apply(change);
  }

  sync(): void {
    this.synced = this.contents();
    this.unsynced = [];
  }

  /** Keeps the synced contents, plus a torn prefix of the later changes if `rng` is given. */
  crash(rng: SeededRng | undefined): void {
    const unsynced = this.unsynced;
    this.bytes = this.synced.slice();
    this.length = this.synced.length;
    this.unsynced = [];
    if (!rng) return;
    const kept = rng.nextInt(unsynced.length + 1);
    for (const change of unsynced.slice(0, kept)) this.apply(change);
    const torn = unsynced[kept];
    if (torn?.kind === "write") this.apply({ ...torn, data: torn.data.subarray(0, rng.nextInt(torn.data.length)) });
    this.synced = this.contents();
  }

  private apply(change: Change): void {
    if (change.kind === "truncate") {
      this.resize(change.length);
      return;
    }
    const end = change.position + change.data.length;
    if (end > this.length) this.resize(end);
    this.bytes.set(change.data, change.position);
  }

  /** Sets the length; bytes past the old length read as zeros. */
  private resize(length: number): void {
    if (length > this.bytes.length) {
      const grown = new Uint8Array(Math.max(length, this.bytes.length * 2));
      grown.set(this.bytes.subarray(0, this.length));
      this.bytes = grown;
    } else if (length > this.length) {
      this.bytes.fill(0, this.length, length);
    }
    this.length = length;
  }
}

/**
 * The disk, which outlives processes. Each process sees it through a
 * {@link SimDisk.mount}; a crash ends every mount and every file opened
 * through one, as a power loss ends every process.
 */
export class SimDisk {
  /** The namespace processes see. */
  private files = new Map<string, Inode>();
  /** The namespace a crash leaves. */
  private durableFiles = new Map<string, Inode>();
  private readonly dirs = new Set<string>(["/", "."]);
  private readonly rng: SeededRng;
  private readonly tornWrites: boolean;
  /** Bumped by each crash; mounts and files from before it stop working. */
  private generation = 0;
  private failingSyncs = 0;
  /** Operations left before an armed crash; undefined when none is armed. */
  private operationsUntilCrash: number | undefined;

  constructor(options: SimDiskOptions = {}) {
    this.rng = new SeededRng(options.seed ?? 1);
    this.tornWrites = options.tornWrites ?? false;
  }

  /** Power loss: everything not yet synced is lost, or with `tornWrites`, partly kept. */
  crash(): void {
    this.generation++;
    this.files = new Map(this.durableFiles);
    for (const inode of new Set(this.files.values())) inode.crash(this.tornWrites ? this.rng : undefined);
  }

  /** How many crashes the disk has been through. */
  get crashes(): number {
    return this.generation;
  }

  /**
   * Arms a crash just before the file-system operation after the next
   * `count` ones, through any mount: the way to crash mid-save, mid-roll-over
   * or mid-recovery. That operation and all later ones from its mount fail.
   */
  crashAfterOperations(count: number): void {
    this.operationsUntilCrash = count;
  }

  /** Makes the next `count` datasyncs or directory syncs fail with EIO. */
  failNextSyncs(count = 1): void {
    this.failingSyncs += count;
  }

  /** The file system as one process sees it, until the next crash. */
  mount(): WalFileSystem {
    const generation = this.generation;
    const live = (): void => {
      this.countOperation();
      if (generation !== this.generation) throw fsError("EIO", "the disk crashed since it was mounted");
    };
    const whileLive =
      <A extends unknown[], R>(op: (...args: A) => R) =>
      async (...args: A): Promise<R> => {
        live();
        return op(...args);
      };
    return {
      mkdir: whileLive((dir: string) => this.mkdir(dir)),
      readdir: whileLive((dir: string) => this.readdir(dir)),
      readFile: whileLive((path: string) => Buffer.from(this.inode(path).contents())),
      create: whileLive((path: string) => this.handle(this.create(path), live)),
      openExisting: whileLive((path: string) => this.handle(this.inode(path), live)),
      rename: whileLive((from: string, to: string) => this.rename(from, to)),
      unlink: whileLive((path: string) => this.unlink(path)),
      syncDir: whileLive((dir: string) => this.syncDir(dir)),
    };
  }

  private countOperation(): void {
    if (this.operationsUntilCrash === undefined) return;
    if (this.operationsUntilCrash-- > 0) return;
    this.operationsUntilCrash = undefined;
    this.crash();
  }

  private mkdir(dir: string): void {
    for (let path = dir; !this.dirs.has(path); path = dirname(path)) this.dirs.add(path);
  }

  private readdir(dir: string): string[] {
    this.expectDir(dir);
    const files = [...this.files.keys()].filter((path) => dirname(path) === dir);
    const subdirs = [...this.dirs].filter((path) => path !== dir && dirname(path) === dir);
    return [...files, ...subdirs].map((path) => path.slice(dir.length + 1));
  }

  private create(path: string): Inode {
    this.expectDir(dirname(path));
    const existing = this.files.get(path);
    if (existing) {
      existing.change({ kind: "truncate", length: 0 });
      return existing;
    }
    const inode = new Inode();
    this.files.set(path, inode);
    return inode;
  }

  private rename(from: string, to: string): void {
    const inode = this.inode(from);
    this.expectDir(dirname(to));
    this.files.delete(from);
    this.files.set(to, inode);
  }

  private unlink(path: string): void {
    this.inode(path);
    this.files.delete(path);
  }

  private syncDir(dir: string): void {
    this.expectDir(dir);
    this.takeSyncFailure();
    const inDir = (path: string) => dirname(path) === dir;
    const durable = [...this.durableFiles].filter(([path]) => !inDir(path));
    const current = [...this.files].filter(([path]) => inDir(path));
    this.durableFiles = new Map([...durable, ...current]);
  }

  private handle(inode: Inode, live: () => void): WalFile {
    let open = true;
    const usable = (): void => {
      if (!open) throw fsError("EBADF", "file handle is closed");
      live();
    };
    const write = (data: Uint8Array, position: number): void => {
      usable();
      inode.change({ kind: "write", data: data.slice(), position });
    };
    const sync = (): void => {
      usable();
      this.takeSyncFailure();
      inode.sync();
    };
    return {
      write: async (data, position) => write(data, position),
      datasync: async () => sync(),
      // O_DSYNC: the write and the sync as one step, with nothing in between.
      writeDurably: async (data, position) => {
        write(data, position);
        sync();
      },
      truncate: async (length) => {
        usable();
        inode.change({ kind: "truncate", length });
      },
      close: async () => {
        if (!open) throw fsError("EBADF", "file handle is closed");
        open = false;
      },
    };
  }

  private takeSyncFailure(): void {
    if (this.failingSyncs === 0) return;
    this.failingSyncs--;
    throw fsError("EIO", "simulated sync failure");
  }

  private inode(path: string): Inode {
    const inode = this.files.get(path);
    if (!inode) throw fsError("ENOENT", `no such file: ${path}`);
    return inode;
  }

  private expectDir(dir: string): void {
    if (!this.dirs.has(dir)) throw fsError("ENOENT", `no such directory: ${dir}`);
  }
}

function fsError(code: string, message: string): Error {
  return Object.assign(new Error(`${code}: ${message}`), { code });
}
