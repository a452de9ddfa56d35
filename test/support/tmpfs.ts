/**
 * Small real filesystems for disk tests: tmpfs mounts of a fixed size, so a
 * test can fill one and see ENOSPC from the kernel. Needs root (CI runs as
 * root); tests skip where mounting is not allowed. Every mount made is
 * remembered, so teardown unmounts them all even after a failure.
 */
import { spawnSync } from "node:child_process";
import { mkdir, open, rm, rmdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

const mounted: string[] = [];

/** Whether this process may mount a tmpfs (tried once, on a throw-away directory). */
export const CAN_MOUNT_TMPFS = (() => {
  if (process.getuid?.() !== 0) return false;
  const dir = join(tmpdir(), `raftkv-mount-probe-${process.pid}`);
  spawnSync("mkdir", ["-p", dir]);
  const mountedOk = spawnSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", dir]).status === 0;
  if (mountedOk) spawnSync("umount", [dir]);
  spawnSync("rmdir", [dir]);
  return mountedOk;
})();

/** Mounts a tmpfs of `sizeMiB` MiB at `dir`, creating it. */
export async function mountTmpfs(dir: string, sizeMiB: number): Promise<void> {
  await mkdir(dir, { recursive: true });
  const result = spawnSync("mount", ["-t", "tmpfs", "-o", `size=${sizeMiB}m`, "tmpfs", dir], { encoding: "utf8" });
  if (result.status !== 0) throw new Error(`mount tmpfs at ${dir}: ${result.stderr}`);
  mounted.push(dir);
}

/** Unmounts every tmpfs mounted here (lazily, so a process still holding a file cannot stop it) and removes the mount points. */
export async function unmountAll(): Promise<void> {
  for (const dir of mounted.splice(0)) {
    spawnSync("umount", ["-l", dir]);
    await rmdir(dir).catch(() => undefined);
  }
}

/**
 * Fills the filesystem holding `dir` with a file of zeros until the kernel
 * says ENOSPC; returns the file's path (remove it to give the space back).
 */
export async function fillFilesystem(dir: string): Promise<string> {
  const path = join(dir, "filler");
  const file = await open(path, "w");
  const chunk = Buffer.alloc(256 * 1024);
  try {
    for (;;) await file.write(chunk);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOSPC") throw error;
  } finally {
    await file.close();
  }
  return path;
}

/** Gives back the space fillFilesystem() took. */
export async function freeFilesystem(filler: string): Promise<void> {
  await rm(filler, { force: true });
}
