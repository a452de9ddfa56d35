/**
 * A member's own command line: `raftkv serve` and nothing else, so that a
 * member process loads no client command, client library or output code.
 * Every launcher starts members through it (see member-process.ts), from one
 * bundled file that build-serve.mjs makes of bin/raftkv-serve.js.
 */
import { Command } from "commander";
import { registerServe } from "./commands/serve.js";
import { HELP_LAYOUT, runProgram } from "./run-program.js";

/** Runs `raftkv serve …` from `argv` (as in process.argv) and returns the exit code. */
export async function runServe(argv: readonly string[]): Promise<number> {
  const program = new Command("raftkv").exitOverride().configureHelp(HELP_LAYOUT);
  registerServe(program);
  return runProgram(program, argv);
}
