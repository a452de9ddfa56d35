/**
 * `raftkv put <key> [value]`: sets a key, the value from standard input when
 * not given (byte for byte: binary values and trailing newlines are kept).
 */
import type { PutResult } from "@raftkv/client";
import type { Command } from "commander";
import { hexId } from "../arguments.js";
import { UsageError } from "../errors.js";
import { readStandardInput } from "../input.js";
import { headerJson, keyValueJson } from "../json-shapes.js";
import { keyValueLines } from "../keys.js";
import { show, type Rendering } from "../output.js";
import { withClient } from "../session.js";

interface PutFlags {
  readonly lease?: number;
  readonly prevKv?: boolean;
  readonly ignoreValue?: boolean;
  readonly ignoreLease?: boolean;
}

const EXAMPLES = `
Examples:
  raftkv put greeting hello
  printf 'line 1\\nline 2' | raftkv put notes      the value from standard input
  raftkv put session/42 alive --lease 712be8a582fca
  raftkv put greeting hi --prev-kv                also print the value it replaced
  raftkv put counter -- -1                        a value that starts with a dash`;

export function registerPut(program: Command): void {
  program
    .command("put <key> [value]")
    .description("set a key's value (read from standard input when not given)")
    .option("--lease <id>", "bind the key to this lease (hex id, as lease grant prints it)", hexId)
    .option("--prev-kv", "print the key-value this put replaced")
    .option("--ignore-value", "keep the current value (to change only the lease)")
    .option("--ignore-lease", "keep the current lease (to change only the value)")
    .addHelpText("after", EXAMPLES)
    .action((key: string, value: string | undefined, flags: PutFlags, command: Command) =>
      withClient(command, async ({ client, options }) => {
        const result = await client.kv.put(key, await valueToPut(value, flags), {
          lease: flags.lease,
          prevKv: flags.prevKv,
          ignoreValue: flags.ignoreValue,
          ignoreLease: flags.ignoreLease,
        });
        show(options.writeOut, putRendering(result));
      }),
    );
}

async function valueToPut(value: string | undefined, flags: PutFlags): Promise<string | Buffer> {
  if (flags.ignoreValue) {
    if (value !== undefined) throw new UsageError("a value cannot be given with --ignore-value");
    return "";
  }
  return value ?? (await readStandardInput("the value"));
}

export function putRendering(result: PutResult): Rendering {
  return {
    json: () => ({ header: headerJson(result.header), ...(result.prevKv && { prev_kv: keyValueJson(result.prevKv) }) }),
    simple: () => ["OK", ...(result.prevKv ? keyValueLines(result.prevKv) : [])],
  };
}
