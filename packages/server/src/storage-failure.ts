/**
 * A member whose disk failed under it. Once a write or sync of the WAL, the
 * store or a snapshot fails (ENOSPC, EIO, a failed fsync), nothing written
 * since the last good sync can be trusted: the kernel may have dropped the
 * pages, and retrying an fsync would report them durable when they are not.
 * Such a member must never acknowledge anything again. It says so at once
 * (health, readiness, metrics, status) and gets out of the way: `raftkv
 * serve` exits with EXIT_STORAGE_FAILURE after a short grace so that a
 * supervisor restarts it, and a restart recovers from what is on disk.
 */

/** sysexits' EX_IOERR: what `raftkv serve` exits with after a storage failure, for supervisors to act on. */
export const EXIT_STORAGE_FAILURE = 74;

/** How long `raftkv serve` keeps answering (unhealthy) before it exits, so that probes and logs see why. */
export const STORAGE_FAILURE_GRACE_MS = 1_000;

/** The error codes of a disk that can no longer keep what it is given. */
const STORAGE_ERROR_CODES = new Set(["ENOSPC", "EIO", "EDQUOT", "EROFS", "EFBIG", "LEVEL_IO_ERROR"]);

export interface StorageFailure {
  /** Which part failed: "wal", "store", "snapshot". */
  readonly where: string;
  readonly error: Error;
}

export class StorageHealth {
  private failed: StorageFailure | undefined;
  private readonly listeners = new Set<(failure: StorageFailure) => void>();

  /** The first failure, if any; later ones change nothing. */
  get failure(): StorageFailure | undefined {
    return this.failed;
  }

  /** What /health says: the part and the error, one line. */
  get reason(): string | undefined {
    const failed = this.failed;
    return failed && `STORAGE FAILED: ${failed.where}: ${failed.error.message}`;
  }

  fail(where: string, cause: unknown): void {
    if (this.failed) return;
    this.failed = { where, error: cause instanceof Error ? cause : new Error(String(cause)) };
    for (const listener of this.listeners) listener(this.failed);
  }

  /** Calls `listener` once, when storage fails (at once if it has). */
  onFailure(listener: (failure: StorageFailure) => void): void {
    if (this.failed) listener(this.failed);
    else this.listeners.add(listener);
  }
}

/**
 * Whether `error`, or an error it was caused by, is the disk refusing
 * (rather than a bug or a bad argument). A WAL or store that failed once
 * carries the system's error as its cause; LevelDB's is LEVEL_IO_ERROR.
 */
export function isStorageError(error: unknown): boolean {
  for (let current = error, depth = 0; current instanceof Error && depth < 5; current = current.cause, depth++) {
    const code = (current as NodeJS.ErrnoException).code;
    if (code !== undefined && STORAGE_ERROR_CODES.has(code)) return true;
  }
  return false;
}
