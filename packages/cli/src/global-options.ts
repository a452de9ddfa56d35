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
  /** etcdctl's --user (`name` or `name:password`) and --password. */
  readonly user: string | undefined;
  readonly password: string | undefined;
  /** etcdctl's TLS flags: files of PEM. */
  readonly cacert: string | undefined;
  readonly cert: string | undefined;
  readonly key: string | undefined;
  readonly insecureSkipTlsVerify: boolean;
}

export function addGlobalOptions(program: Command): void {
  program
    .addOption(new Option("--endpoints <urls>", `comma-separated client URLs of members (default: ${ENDPOINTS_DEFAULT})`).argParser(urlList))
    .addOption(new Option("-w, --write-out <format>", "output format of client commands").choices(OUTPUT_FORMATS).default("table"))
    .addOption(
      new Option("--command-timeout <duration>", 'how long one request may take, failover included ("5s", "500ms")')
        .argParser(duration)
        .default(duration(DEFAULT_COMMAND_TIMEOUT), DEFAULT_COMMAND_TIMEOUT),
    )
    .addOption(new Option("--user <name[:password]>", "log in as this user (the password after a colon, or in --password)"))
    .addOption(new Option("--password <password>", "the password of --user"))
    .addOption(new Option("--cacert <file>", "verify the members' certificates with this CA (PEM)"))
    .addOption(new Option("--cert <file>", "this client's certificate (PEM), for members with --client-cert-auth"))
    .addOption(new Option("--key <file>", "the key of --cert (PEM)"))
    .addOption(new Option("--insecure-skip-tls-verify", "accept any certificate the members present (trying TLS out only)"));
}

/** The global options as they apply to `command` (set before or after its name). */
export function globalOptions(command: Command): GlobalOptions {
  const options = command.optsWithGlobals<{
    endpoints?: string[];
    writeOut: OutputFormat;
    commandTimeout: number;
    user?: string;
    password?: string | boolean;
    cacert?: string;
    cert?: string;
    key?: string;
    insecureSkipTlsVerify?: boolean;
  }>();
  return {
    endpoints: options.endpoints,
    writeOut: options.writeOut,
    commandTimeoutMs: options.commandTimeout,
    user: options.user,
    // `user add --no-password` sets a boolean of the same name on its command.
    password: typeof options.password === "string" ? options.password : undefined,
    cacert: options.cacert,
    cert: options.cert,
    key: options.key,
    insecureSkipTlsVerify: options.insecureSkipTlsVerify ?? false,
  };
}
