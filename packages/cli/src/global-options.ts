/**
 * The options every client command shares, as etcdctl's global flags:
 * which members to talk to, how to print, how long to wait. They sit on the
 * program, so they may come before or after the command's name
 * (`raftkv --endpoints … get k` and `raftkv get k -w json` both work).
 */
import { Option, type Command } from "commander";
import { duration, urlList } from "./arguments.js";

export const OUTPUT_FORMATS = ["table", "json", "simple"] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** For help only: the client reads the variable (loading it here would slow down --help). */
const ENDPOINTS_DEFAULT = "$RAFTKV_ENDPOINTS, else http://127.0.0.1:2379";
/** etcdctl's default: long enough for an election, short enough to notice a dead cluster. */
const DEFAULT_COMMAND_TIMEOUT = "5s";

export interface GlobalOptions {
  /** As given; undefined means RAFTKV_ENDPOINTS or the client's default. */
  readonly endpoints: readonly string[] | undefined;
  readonly writeOut: OutputFormat;
  readonly commandTimeoutMs: number;
}

export function addGlobalOptions(program: Command): void {
  program
    .addOption(
      new Option("--endpoints <urls>", `comma-separated client URLs of members (default: ${ENDPOINTS_DEFAULT})`).argParser(
        urlList,
      ),
    )
    .addOption(new Option("-w, --write-out <format>", "output format of client commands").choices(OUTPUT_FORMATS).default("table"))
    .addOption(
      new Option("--command-timeout <duration>", 'how long one request may take, failover included ("5s", "500ms")')
        .argParser(duration)
        .default(duration(DEFAULT_COMMAND_TIMEOUT), DEFAULT_COMMAND_TIMEOUT),
    );
}

/** The global options as they apply to `command` (set before or after its name). */
export function globalOptions(command: Command): GlobalOptions {
  const options = command.optsWithGlobals<{ endpoints?: string[]; writeOut: OutputFormat; commandTimeout: number }>();
  return { endpoints: options.endpoints, writeOut: options.writeOut, commandTimeoutMs: options.commandTimeout };
}
