/**
 * `raftkv txn`: one etcd transaction, read as JSON from standard input or
 * --file (the format is in txn-format.ts and the README). Prints SUCCESS or
 * FAILURE, then each operation's result as get, put and del would.
 */
import type { TxnOpResult, TxnResult } from "@raftkv/client";
import { readFile } from "node:fs/promises";
import type { Command } from "commander";
import { readStandardInput } from "../input.js";
import { headerJson } from "../json-shapes.js";
import { show, type Rendering } from "../output.js";
import { withClient } from "../session.js";
import { deleteRendering } from "./del.js";
import { getRendering } from "./get.js";
import { putRendering } from "./put.js";

const EXAMPLES = `
Examples:
  raftkv txn --file swap.json
  echo '{"compare":[{"key":"leader","target":"CREATE","result":"=","create_revision":0}],
        "success":[{"put":{"key":"leader","value":"me"}}],
        "failure":[{"get":{"key":"leader"}}]}' | raftkv txn

Compares: {"key", "target": VALUE|VERSION|CREATE|MOD|LEASE, "result": = != > <,
  and the operand: "value", "version", "create_revision", "mod_revision" or "lease"};
  "range_end" or "prefix": true compare every key of a range.
Operations: {"put": {"key", "value", "lease"?, "prev_kv"?}},
  {"get": {"key", "range_end"?, "prefix"?, "revision"?, "limit"?, "keys_only"?, "count_only"?}},
  {"delete": {"key", "range_end"?, "prefix"?, "prev_kv"?}}. Leases in hex, as lease grant prints them.`;

export function registerTxn(program: Command): void {
  program
    .command("txn")
    .description("run a transaction read as JSON from standard input or --file (compares, success and failure operations)")
    .option("--file <path>", "read the transaction from this file instead of standard input")
    .addHelpText("after", EXAMPLES)
    .action((flags: { file?: string }, command: Command) =>
      withClient(command, async ({ client, options }) => {
        // Loaded here: zod is needed by this command only.
        const { parseTxn } = await import("../txn-format.js");
        const source = flags.file ?? "standard input";
        const text = flags.file === undefined ? (await readStandardInput("the transaction")).toString("utf8") : await readFile(flags.file, "utf8");
        const result = await client.kv.txn(parseTxn(text, source));
        show(options.writeOut, txnRendering(result));
      }),
    );
}

function txnRendering(result: TxnResult): Rendering {
  const parts = result.responses.map(partOf);
  return {
    json: () => ({
      header: headerJson(result.header),
      succeeded: result.succeeded,
      responses: parts.map(({ field, rendering }) => ({ [field]: rendering.json() })),
    }),
    simple: () => [result.succeeded ? "SUCCESS" : "FAILURE", "", ...parts.flatMap(({ rendering }) => rendering.simple())],
  };
}

/** One operation's result, with etcd's field name for it in a TxnResponse. */
function partOf(response: TxnOpResult): { field: string; rendering: Rendering } {
  if ("get" in response) return { field: "response_range", rendering: getRendering(response.get) };
  if ("put" in response) return { field: "response_put", rendering: putRendering(response.put) };
  if ("delete" in response) return { field: "response_delete_range", rendering: deleteRendering(response.delete) };
  return { field: "response_txn", rendering: txnRendering(response.txn) };
}
