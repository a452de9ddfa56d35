/**
 * A member's storage in the local driver, when disk faults are wanted: a
 * small tmpfs of its own that a ballast file can fill (`disk-full`), and a
 * FUSE layer that can make every write and sync fail with EIO, as a dead
 * disk does (`disk-fail`; fuse/faulty_disk.py). The kernel here has no
 * device-mapper, whose error and flakey targets would do the latter below a
 * real file system.
 *
 * Layout under the run's directory, for member n1:
 * - `disks/n1`: the tmpfs (disk-full, 160 MiB); the member's files in `disks/n1/data`,
 *   the ballast beside them;
 * - `faulty/n1`: the FUSE mount over the member's files (disk-fail), switched
 *   to failing by the file `faulty/n1.dead`;
 * - `data/n1`: the member's files when there is no tmpfs, and where the
 *   tmpfs's are copied at teardown, so a failed run keeps them.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { closeSync, cpSync, mkdirSync, openSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from "node:fs";
import { open, statfs } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { HarnessError } from "./cluster.js";
import { waitFor } from "./wait.js";

const run = promisify(execFile);

export type DiskFault = "full" | "fail";

/** Which layers the members' storage has: each fault needs its own. */
export interface DiskLayers {
  readonly full: boolean;
  readonly fail: boolean;
}

/**
 * Room for a run's data many times over (a WAL segment grows as written, it
 * is not preallocated) beyond raftkv's default free-disk reserve (64 MiB,
 * below which a member raises NOSPACE), so that members run normally until
 * the fault.
 */
const TMPFS_SIZE = "160m";
/** The mount sources our tmpfs and FUSE mounts carry, so that --cleanup can find them. */
const TMPFS_SOURCE = "rkvdisk";
const FUSE_SOURCE = "rkvfaulty";
const FAULTY_DISK = resolve(fileURLToPath(import.meta.url), "../../../../fuse/faulty_disk.py");
const PYTHON = "/usr/bin/python3";
const MOUNT_DEADLINE_MS = 10_000;
const BALLAST_CHUNK = Buffer.alloc(1024 * 1024);

export class MemberDisk {
  private fuse: ChildProcess | undefined;

  constructor(
    private readonly runDir: string,
    private readonly name: string,
    private readonly layers: DiskLayers,
  ) {}

  /** Where the member keeps its files. */
  get dataDir(): string {
    return this.layers.fail ? this.fuseMount : this.backingDir;
  }

  /** Mounts the layers asked for; the member must not have started. */
  async mount(): Promise<void> {
    if (this.layers.full) {
      mkdirSync(this.tmpfsMount, { recursive: true });
      await run("mount", ["-t", "tmpfs", "-o", `size=${TMPFS_SIZE}`, TMPFS_SOURCE, this.tmpfsMount]);
    }
    mkdirSync(this.backingDir, { recursive: true });
    if (this.layers.fail) await this.mountFuse();
  }

  /** Fills the tmpfs, or makes every change to the files fail. */
  async break(fault: DiskFault): Promise<void> {
    if (fault === "full") await fill(this.ballast);
    else writeFileSync(this.deadSwitch, "");
  }

  /** Frees the space and lets changes through again. */
  async repair(): Promise<void> {
    rmSync(this.ballast, { force: true });
    rmSync(this.deadSwitch, { force: true });
  }

  /** Removes the member's files (not the directory, which may be a mount point). */
  empty(): void {
    for (const entry of readdirSync(this.dataDir)) rmSync(join(this.dataDir, entry), { recursive: true, force: true });
  }

  /**
   * Unmounts what mount() mounted, the member stopped, copying the tmpfs's
   * files to `data/<name>` first; tries every step, whatever failed before.
   */
  async unmount(): Promise<void> {
    const errors: unknown[] = [];
    await this.unmountFuse().catch((error: unknown) => errors.push(error));
    if (mountedAt(this.tmpfsMount)) {
      try {
        cpSync(this.backingDir, join(this.runDir, "data", this.name), { recursive: true });
      } catch (error) {
        errors.push(error);
      }
      await unmount(this.tmpfsMount).catch((error: unknown) => errors.push(error));
    }
    if (errors.length === 0) for (const dir of [this.fuseMount, this.tmpfsMount]) removeEmpty(dir);
    if (errors.length > 0) throw new HarnessError(`unmounting ${this.name}'s disk: ${errors.map(String).join("; ")}`);
  }

  private async mountFuse(): Promise<void> {
    mkdirSync(this.fuseMount, { recursive: true });
    mkdirSync(join(this.runDir, "logs"), { recursive: true });
    const log = openSync(join(this.runDir, "logs", `${this.name}.disk.log`), "a");
    const fuse = spawn(PYTHON, [FAULTY_DISK, this.backingDir, this.fuseMount, this.deadSwitch], { stdio: ["ignore", log, log] });
    closeSync(log);
    this.fuse = fuse;
    const exited = new Promise<never>((_, reject) =>
      fuse.once("exit", (code) =>
        reject(new HarnessError(`the FUSE layer for ${this.name} exited (${code}); it needs python3-fusepy: apt-get install -y python3-fusepy`)),
      ),
    );
    await Promise.race([waitFor(`${this.name}'s FUSE mount`, async () => (mountedAt(this.fuseMount) ? true : undefined), MOUNT_DEADLINE_MS), exited]);
  }

  private async unmountFuse(): Promise<void> {
    const fuse = this.fuse;
    this.fuse = undefined;
    const exited = new Promise((resolveExit) => (fuse === undefined || fuse.exitCode !== null ? resolveExit(undefined) : fuse.once("exit", resolveExit)));
    if (mountedAt(this.fuseMount)) await unmount(this.fuseMount);
    await exited;
  }

  private get tmpfsMount(): string {
    return join(this.runDir, "disks", this.name);
  }

  private get backingDir(): string {
    return this.layers.full ? join(this.tmpfsMount, "data") : join(this.runDir, "data", this.name);
  }

  private get ballast(): string {
    return join(this.tmpfsMount, "ballast");
  }

  private get fuseMount(): string {
    return join(this.runDir, "faulty", this.name);
  }

  private get deadSwitch(): string {
    return join(this.runDir, "faulty", `${this.name}.dead`);
  }
}

/**
 * Takes every free block for `path` at once (fallocate, one system call:
 * writing 64 MiB through libuv's pool takes seconds on a loaded machine),
 * then writes zeros until the file system refuses, for any blocks left.
 */
async function fill(path: string): Promise<void> {
  const stats = await statfs(dirname(path));
  await run("fallocate", ["--length", String(stats.bavail * stats.bsize), path]).catch(() => undefined);
  const file = await open(path, "a");
  try {
    for (;;) await file.write(BALLAST_CHUNK);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOSPC") throw error;
  } finally {
    await file.close();
  }
}

/** Removes a mount point left empty by unmounting, and its parent once the last is gone; anything else stays. */
function removeEmpty(dir: string): void {
  for (const path of [dir, dirname(dir)]) {
    try {
      rmdirSync(path);
    } catch {
      return;
    }
  }
}

function mountedAt(path: string): boolean {
  return mountPoints().some((mount) => mount.target === path);
}

function mountPoints(): { source: string; target: string }[] {
  return readFileSync("/proc/mounts", "utf8")
    .split("\n")
    .map((line) => line.split(" "))
    .map(([source = "", target = ""]) => ({ source, target: target.replace(/\\040/g, " ") }));
}

/** A busy mount (a member that has not quite gone) is detached lazily rather than left behind. */
async function unmount(path: string): Promise<void> {
  await run("umount", [path]).catch(() => run("umount", ["-l", path]));
}

/** Unmounts every tmpfs and FUSE layer a local run left behind; returns their mount points. */
export async function cleanupDisks(): Promise<string[]> {
  const ours = mountPoints().filter((mount) => mount.source === TMPFS_SOURCE || mount.source === FUSE_SOURCE);
  // FUSE layers first: one may sit on a tmpfs.
  ours.sort((a, b) => Number(b.source === FUSE_SOURCE) - Number(a.source === FUSE_SOURCE));
  for (const mount of ours) await unmount(mount.target);
  return ours.map((mount) => mount.target);
}
