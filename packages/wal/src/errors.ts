/**
 * Damage found while recovering: a record that fails its checksum, or a log
 * that does not continue where the previous record left it, anywhere except a
 * torn tail. Start-up stops here, because going on would silently drop or
 * reorder acknowledged writes.
 */
export class WalCorruptionError extends Error {
  override readonly name = "WalCorruptionError";

  constructor(
    readonly file: string,
    readonly offset: number,
    readonly reason: string,
  ) {
    super(`wal: corrupt log in ${file} at byte offset ${offset}: ${reason}`);
  }
}

/**
 * A write or fsync failed. After a failed fsync the kernel may have dropped
 * the dirty pages, so nothing written since the last good sync can be
 * trusted: every later call fails with this error until the WAL is reopened.
 */
export class WalFailedError extends Error {
  override readonly name = "WalFailedError";

  constructor(cause: unknown) {
    super(`wal: an earlier write or sync failed; reopen the log to recover (${describe(cause)})`, { cause });
  }
}

export class WalClosedError extends Error {
  override readonly name = "WalClosedError";

  constructor() {
    super("wal: the log is closed");
  }
}

function describe(cause: unknown): string {
  return cause instanceof Error ? cause.message : String(cause);
}
