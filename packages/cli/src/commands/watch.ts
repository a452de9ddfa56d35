/**
 * `raftkv watch <key> [range_end]`: prints changes as they happen until
 * Ctrl-C. The client resumes the watch on another member from the next
 * revision when the one serving it fails, so nothing is missed or printed
 * twice; if compaction removed the history it needs, the command ends with
 * "compacted: re-list" and exit code 1.
 */
import type { WatchEvent } from "@raftkv/client";
import type { Command } from "commander";
import { positiveWholeNumber } from "../arguments.js";
import { keyValueJson } from "../json-shapes.js";
import { addRangeOptions, keyValueLines, rangeSelection, type RangeFlags } from "../keys.js";
import { show } from "../output.js";
import { withClient } from "../session.js";
import { shutdownSignal } from "../signals.js";

interface WatchFlags extends RangeFlags {
  readonly rev?: number;
  readonly prevKv?: boolean;
}

const EXAMPLES = `
Examples:
  raftkv watch greeting                    changes from now on, until Ctrl-C
  raftkv watch app/ --prefix -w json       one JSON object per event and line
  raftkv watch greeting --rev 1            replay history from revision 1, then go on

Each event prints as its type (PUT or DELETE), then with --prev-kv the
previous key and value, then the key and value.`;

export function registerWatch(program: Command): void {
  const watch = program
    .command("watch <key> [range_end]")
    .description("print changes to a key, a range or a prefix as they happen, until Ctrl-C")
    .option("--rev <revision>", "start from this past revision (replaying history)", positiveWholeNumber)
    .option("--prev-kv", "also print each key's value before the change")
    .addHelpText("after", EXAMPLES);
  addRangeOptions(watch).action((key: string, rangeEnd: string | undefined, flags: WatchFlags, command: Command) =>
    withClient(command, async ({ client, options }) => {
      const watcher = client.watch.watch(key, {
        ...rangeSelection(rangeEnd, flags),
        startRevision: flags.rev,
        prevKv: flags.prevKv,
        signal: shutdownSignal(),
      });
      for await (const event of watcher) show(options.writeOut, eventRendering(event));
    }),
  );
}

function eventRendering(event: WatchEvent) {
  return {
    json: () => ({ type: event.type, kv: keyValueJson(event.kv), ...(event.prevKv && { prev_kv: keyValueJson(event.prevKv) }) }),
    simple: () => [event.type, ...(event.prevKv ? keyValueLines(event.prevKv) : []), ...keyValueLines(event.kv)],
  };
}
