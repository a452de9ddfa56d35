/**
 * `raftkv get <key> [range_end]`: one key, a range, or a prefix, now or at a
 * past revision, linearizable (the default) or served by the member asked.
 */
import type { GetResult, SortOrder, SortTarget } from "@raftkv/client";
import { Option, type Command } from "commander";
import { oneOf, positiveWholeNumber, wholeNumber } from "../arguments.js";
import { headerJson, keyValueJson } from "../json-shapes.js";
import { addRangeOptions, keyValueLines, keyValueTable, rangeSelection, type RangeFlags } from "../keys.js";
import { show, type Rendering } from "../output.js";
import { withClient } from "../session.js";

/** etcdctl's names for the sort targets, and the client's. */
const SORT_TARGETS = { KEY: "KEY", VERSION: "VERSION", CREATE: "CREATE", MODIFY: "MOD", VALUE: "VALUE" } as const satisfies Record<string, SortTarget>;
type SortTargetName = keyof typeof SORT_TARGETS;

interface GetFlags extends RangeFlags {
  readonly rev?: number;
  readonly limit?: number;
  readonly keysOnly?: boolean;
  readonly countOnly?: boolean;
  readonly printValueOnly?: boolean;
  readonly sortBy?: SortTargetName;
  readonly order?: Exclude<SortOrder, "NONE">;
  readonly consistency?: "l" | "s";
}

const EXAMPLES = `
Examples:
  raftkv get greeting                      one key, as a table
  raftkv get app/ --prefix -w simple       every key under app/: key line, value line
  raftkv get a c                           keys from a up to (not including) c
  raftkv get greeting --rev 7              the key as it was at revision 7
  raftkv get "" --prefix --keys-only       every key, without values
  raftkv get app/ --prefix --count-only    how many keys start with app/
  raftkv get greeting --print-value-only   the value alone, for scripts`;

export function registerGet(program: Command): void {
  const get = program
    .command("get <key> [range_end]")
    .description("read a key, a range [key, range_end) or a prefix")
    .option("--rev <revision>", "read at this past revision (0: now)", wholeNumber)
    .option("--limit <count>", "at most this many keys", positiveWholeNumber)
    .option("--keys-only", "keys and their revisions, without values")
    .option("--count-only", "only how many keys match")
    .option("--print-value-only", "values alone, one per line (with -w simple or table)")
    .addOption(
      new Option("--sort-by <target>", "sort by KEY, VERSION, CREATE, MODIFY or VALUE").argParser(oneOf(Object.keys(SORT_TARGETS) as SortTargetName[])),
    )
    .addOption(new Option("--order <order>", "ASCEND or DESCEND (with --sort-by; alone it sorts by key)").argParser(oneOf(["ASCEND", "DESCEND"] as const)))
    .addOption(
      new Option("--consistency <l|s>", "l: linearizable, through the leader; s: serializable, from the member asked").choices(["l", "s"]).default("l"),
    )
    .addHelpText("after", EXAMPLES);
  addRangeOptions(get).action((key: string, rangeEnd: string | undefined, flags: GetFlags, command: Command) =>
    withClient(command, async ({ client, options }) => {
      const result = await client.kv.get(key, {
        ...rangeSelection(rangeEnd, flags),
        revision: flags.rev,
        limit: flags.limit,
        keysOnly: flags.keysOnly,
        countOnly: flags.countOnly,
        sort: sortOf(flags),
        serializable: flags.consistency === "s",
      });
      show(options.writeOut, getRendering(result, flags));
    }),
  );
}

function sortOf(flags: GetFlags): { target: SortTarget; order: SortOrder } | undefined {
  if (flags.sortBy === undefined && flags.order === undefined) return undefined;
  return { target: SORT_TARGETS[flags.sortBy ?? "KEY"], order: flags.order ?? "ASCEND" };
}

export function getRendering(result: GetResult, flags: GetFlags = {}): Rendering {
  return {
    json: () => ({ header: headerJson(result.header), kvs: result.kvs.map(keyValueJson), more: result.more, count: result.count }),
    simple: () => {
      if (flags.countOnly) return [String(result.count)];
      if (flags.printValueOnly) return result.kvs.map((kv) => kv.value.toString());
      if (flags.keysOnly) return result.kvs.map((kv) => kv.key.toString());
      return result.kvs.flatMap(keyValueLines);
    },
    // A count, or bare values, read better as lines than as a one-column table.
    table: flags.countOnly || flags.printValueOnly ? undefined : () => keyValueTable(result.kvs, !flags.keysOnly),
  };
}
