/**
 * An in-memory disk that loses what a power failure loses. Tests and the
 * Raft simulator run the real WAL on it and call {@link SimDisk.crash}.
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

type Change =
  | { readonly kind: "write"; readonly data: Uint8Array; readonly position: number }
  | { readonly kind: "truncate"; readonly length: number };

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

export class SimDisk implements WalFileSystem {
  /** The namespace processes see. */
  private files = new Map<string, Inode>();
  /** The namespace a crash leaves. */
  private durableFiles = new Map<string, Inode>();
  private readonly dirs = new Set<string>(["/", "."]);
  private readonly rng: SeededRng;
  private readonly tornWrites: boolean;
  /** Bumped by each crash; handles opened before it stop working. */
  private generation = 0;
  private failingSyncs = 0;
  /** Operation counts, for tests that check how much I/O a workload takes. */
  readonly counts = { writes: 0, datasyncs: 0, dirSyncs: 0 };

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

  /** Makes the next `count` datasyncs or directory syncs fail with EIO. */
  failNextSyncs(count = 1): void {
    this.failingSyncs += count;
  }

  async mkdir(dir: string): Promise<void> {
    for (let path = dir; !this.dirs.has(path); path = dirname(path)) this.dirs.add(path);
  }

  async readdir(dir: string): Promise<string[]> {
    this.expectDir(dir);
    const files = [...this.files.keys()].filter((path) => dirname(path) === dir);
    const subdirs = [...this.dirs].filter((path) => path !== dir && dirname(path) === dir);
    return [...files, ...subdirs].map((path) => path.slice(dir.length + 1));
  }

  async readFile(path: string): Promise<Buffer> {
    return Buffer.from(this.inode(path).contents());
  }

  async create(path: string): Promise<WalFile> {
    this.expectDir(dirname(path));
    const existing = this.files.get(path);
    if (existing) {
      existing.change({ kind: "truncate", length: 0 });
      return this.handle(existing);
    }
    const inode = new Inode();
    this.files.set(path, inode);
    return this.handle(inode);
  }

  async openExisting(path: string): Promise<WalFile> {
    return this.handle(this.inode(path));
  }

  async rename(from: string, to: string): Promise<void> {
    const inode = this.inode(from);
    this.expectDir(dirname(to));
    this.files.delete(from);
    this.files.set(to, inode);
  }

  async unlink(path: string): Promise<void> {
    this.inode(path);
    this.files.delete(path);
  }

  async syncDir(dir: string): Promise<void> {
    this.expectDir(dir);
    this.takeSyncFailure();
    this.counts.dirSyncs++;
    const inDir = (path: string) => dirname(path) === dir;
    const durable = [...this.durableFiles].filter(([path]) => !inDir(path));
    const current = [...this.files].filter(([path]) => inDir(path));
    this.durableFiles = new Map([...durable, ...current]);
  }

  private handle(inode: Inode): WalFile {
    const generation = this.generation;
    let open = true;
    const usable = (): void => {
      if (!open) throw fsError("EBADF", "file handle is closed");
      if (generation !== this.generation) throw fsError("EIO", "the disk crashed since this file was opened");
    };
    return {
      write: async (data, position) => {
        usable();
        this.counts.writes++;
        inode.change({ kind: "write", data: data.slice(), position });
      },
      datasync: async () => {
        usable();
        this.takeSyncFailure();
        this.counts.datasyncs++;
        inode.sync();
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
