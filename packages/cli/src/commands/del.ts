/** `raftkv del <key> [range_end]`: deletes a key, a range or a prefix; prints how many went. */
import type { DeleteResult } from "@raftkv/client";
import type { Command } from "commander";
import { headerJson, keyValueJson } from "../json-shapes.js";
import { addRangeOptions, keyValueLines, rangeSelection, type RangeFlags } from "../keys.js";
import { show, type Rendering } from "../output.js";
import { withClient } from "../session.js";

interface DelFlags extends RangeFlags {
  readonly prevKv?: boolean;
}

const EXAMPLES = `
Examples:
  raftkv del greeting
  raftkv del app/ --prefix             every key under app/
  raftkv del a c                       keys from a up to (not including) c
  raftkv del greeting --prev-kv        also print what was deleted`;

export function registerDel(program: Command): void {
  const del = program
    .command("del <key> [range_end]")
    .description("delete a key, a range [key, range_end) or a prefix; prints the number deleted")
    .option("--prev-kv", "also print the deleted key-values")
    .addHelpText("after", EXAMPLES);
  addRangeOptions(del).action((key: string, rangeEnd: string | undefined, flags: DelFlags, command: Command) =>
    withClient(command, async ({ client, options }) => {
      const result = await client.kv.delete(key, { ...rangeSelection(rangeEnd, flags), prevKv: flags.prevKv });
      show(options.writeOut, deleteRendering(result));
    }),
  );
}

export function deleteRendering(result: DeleteResult): Rendering {
  return {
    json: () => ({ header: headerJson(result.header), deleted: result.deleted, prev_kvs: result.prevKvs.map(keyValueJson) }),
    simple: () => [String(result.deleted), ...result.prevKvs.flatMap(keyValueLines)],
  };
}
