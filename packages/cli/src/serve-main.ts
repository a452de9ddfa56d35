/**
 * A member's own command line: `raftkv serve` and nothing else, so that a
 * member process loads no client command, client library or output code.
 * Every launcher starts members through it (see member-process.ts), from one
 * bundled file that build-serve.mjs makes of this module, run by
 * serve-loader.ts.
 */
import { Command } from "commander";
import { registerServe, type ServeHooks } from "./commands/serve.js";
import { HELP_LAYOUT, runProgram } from "./run-program.js";

export type { ServeHooks } from "./commands/serve.js";

/** Runs `raftkv serve …` from `argv` (as in process.argv) and returns the exit code. */
export async function runServe(argv: readonly string[], hooks: ServeHooks = {}): Promise<number> {
  const program = new Command("raftkv").exitOverride().configureHelp(HELP_LAYOUT);
  registerServe(program, hooks);
  return runProgram(program, argv);
}
