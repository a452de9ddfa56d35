/**
 * How a command reports failure. run() turns these into exit codes, so the
 * commands themselves never call process.exit.
 */

/** Exit code for a command called the wrong way, as with etcd and most Unix tools. */
export const USAGE_EXIT_CODE = 2;

/** The command was called the wrong way: a bad flag, value or environment variable. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * End with `exitCode` and print nothing more: the command has already said
 * why (a FAIL verdict, an unhealthy endpoint) or is passing on the exit code
 * of a command it ran.
 */
export class SilentExit extends Error {
  override readonly name = "SilentExit";

  constructor(readonly exitCode: number) {
    super(`exit code ${exitCode}`);
  }
}
