/**
 * Runs a commander program and turns its outcome into an exit code: 0 done,
 * 1 failed, 2 called the wrong way. Shared by the whole command line
 * (main.ts) and by the member's own entry, which holds `serve` alone
 * (serve-main.ts).
 */
import { CommanderError, type Command } from "commander";
import { SilentExit, USAGE_EXIT_CODE, UsageError, messageOf } from "./errors.js";
import { signalExitCode } from "./signals.js";

/**
 * Both programs' help layout: the serve flags are long, so descriptions wrap
 * rather than run past 80 columns. Programs also call exitOverride():
 * commander would exit by itself, with 1 for a bad flag; runProgram decides.
 */
export const HELP_LAYOUT = { minWidthToWrap: 30 };

/** Runs `program` on the command line `argv` (as in process.argv) and returns the exit code. */
export async function runProgram(program: Command, argv: readonly string[]): Promise<number> {
  endQuietlyWhenOutputCloses();
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (error) {
    return exitCodeFor(error);
  }
}

/**
 * `raftkv watch … | head -1`: once the reader is gone there is nobody to
 * tell, so end as a Unix filter does on SIGPIPE, without a stack trace.
 */
function endQuietlyWhenOutputCloses(): void {
  process.stdout.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code !== "EPIPE") throw error;
    process.exit(signalExitCode("SIGPIPE"));
  });
}

function exitCodeFor(error: unknown): number {
  // Commander has already printed its message, or the help.
  if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : USAGE_EXIT_CODE;
  if (error instanceof SilentExit) return error.exitCode;
  process.stderr.write(`error: ${messageOf(error)}\n`);
  return error instanceof UsageError ? USAGE_EXIT_CODE : 1;
}
