/**
 * The floor under a durable write: appending a WAL-record-sized block and
 * fdatasync-ing it, on the filesystem where the clusters keep their data.
 * Neither system can acknowledge a put faster than its leader can do this
 * once (followers sync in parallel with it).
 */
import { closeSync, fdatasyncSync, mkdtempSync, openSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface FsyncFloor {
  readonly samples: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

export function measureFsyncFloor(samples: number, recordBytes = 512): FsyncFloor {
  const dir = mkdtempSync(join(tmpdir(), "bench-fsync-"));
  const fd = openSync(join(dir, "wal"), "a");
  const record = Buffer.alloc(recordBytes, 1);
  const timesMs: number[] = [];
  try {
    for (let i = 0; i < samples; i++) {
      const start = performance.now();
      writeSync(fd, record);
      fdatasyncSync(fd);
      timesMs.push(performance.now() - start);
    }
  } finally {
    closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
  }
  timesMs.sort((a, b) => a - b);
  const at = (p: number): number => timesMs[Math.min(timesMs.length - 1, Math.floor((p / 100) * timesMs.length))]!;
  return { samples, p50Ms: at(50), p99Ms: at(99) };
}
