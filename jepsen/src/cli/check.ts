/**
 * raftkv-check: is a recorded history linearizable?
 * Exit status 0 yes, 1 no, 2 unknown (timed out) or unusable input.
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import {
  checkHistory,
  DEFAULT_TIMEOUT_MS,
  detectFormat,
  formatReport,
  HISTORY_FORMATS,
  HistoryError,
  MODELS,
  parseHistory,
  reportJson,
  type CheckResult,
  type HistoryFormat,
} from "../checker/index.js";

export const USAGE = `Usage: raftkv-check <history> [options]

Checks that a history of operations (Jepsen EDN or raftkv JSON lines) is linearizable.

Options:
  --model <name>     ${[...MODELS.keys()].join(" | ")} (default register; keys are checked apart)
  --format <format>  ${HISTORY_FORMATS.join(" | ")} (default: by extension, else by the first line)
  --timeout <s>      give up and answer unknown after this many seconds (default ${DEFAULT_TIMEOUT_MS / 1000})
  --json             print the result as JSON
  -h, --help         print this help

Exit status: 0 linearizable, 1 not linearizable, 2 unknown or unusable input.
`;

export enum ExitCode {
  Linearizable = 0,
  NotLinearizable = 1,
  Unknown = 2,
}

/** An input or option the command cannot work with: reported on stderr with exit status 2. */
class UsageError extends Error {}

interface Invocation {
  readonly path: string;
  readonly model: string;
  readonly format: HistoryFormat | undefined;
  readonly timeoutMs: number;
  readonly json: boolean;
}

export function main(args: readonly string[]): ExitCode {
  try {
    const invocation = parseInvocation(args);
    if (invocation === undefined) {
      process.stdout.write(USAGE);
      return ExitCode.Linearizable;
    }
    const result = check(invocation);
    process.stdout.write(invocation.json ? `${reportJson(result)}\n` : formatReport(result));
    return result.valid === true ? ExitCode.Linearizable : result.valid === false ? ExitCode.NotLinearizable : ExitCode.Unknown;
  } catch (error) {
    if (!(error instanceof UsageError || error instanceof HistoryError)) throw error;
    process.stderr.write(`raftkv-check: ${error.message}\n`);
    return ExitCode.Unknown;
  }
}

function parseCheckArgs(args: readonly string[]) {
  try {
    return parseArgs({
      args: [...args],
      allowPositionals: true,
      options: {
        model: { type: "string", default: "register" },
        format: { type: "string" },
        timeout: { type: "string", default: String(DEFAULT_TIMEOUT_MS / 1000) },
        json: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    });
  } catch (error) {
    throw new UsageError(`${(error as Error).message}\n\n${USAGE}`);
  }
}

/** The invocation, or undefined when help was asked for. */
function parseInvocation(args: readonly string[]): Invocation | undefined {
  const { values, positionals } = parseCheckArgs(args);
  if (values.help) return undefined;
  if (positionals.length !== 1) throw new UsageError(`expected one history file\n\n${USAGE}`);
  if (!MODELS.has(values.model)) throw new UsageError(`unknown model ${values.model}; known: ${[...MODELS.keys()].join(", ")}`);
  const format = values.format;
  if (format !== undefined && !HISTORY_FORMATS.includes(format as HistoryFormat)) {
    throw new UsageError(`unknown format ${format}; known: ${HISTORY_FORMATS.join(", ")}`);
  }
  const timeoutSeconds = Number(values.timeout);
  if (!(timeoutSeconds >= 0)) throw new UsageError(`--timeout needs a number of seconds, not ${values.timeout}`);
  return {
    path: positionals[0]!,
    model: values.model,
    format: format as HistoryFormat | undefined,
    timeoutMs: timeoutSeconds * 1000,
    json: values.json,
  };
}

function check(invocation: Invocation): CheckResult {
  const text = readHistoryFile(invocation.path);
  const format = invocation.format ?? detectFormat(invocation.path, text);
  try {
    const events = parseHistory(text, format);
    return checkHistory(events, MODELS.get(invocation.model)!, { timeoutMs: invocation.timeoutMs });
  } catch (error) {
    if (error instanceof HistoryError) throw new UsageError(`${invocation.path}: ${error.message}`);
    throw error;
  }
}

function readHistoryFile(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    throw new UsageError(`cannot read ${path}: ${(error as Error).message}`);
  }
}
