/** `raftkv compaction <revision>`: drops the history before a revision. */
import type { Command } from "commander";
import { positiveWholeNumber } from "../arguments.js";
import { headerJson } from "../json-shapes.js";
import { show } from "../output.js";
import { withClient } from "../session.js";

export function registerCompaction(program: Command): void {
  program
    .command("compaction")
    .argument("<revision>", "the oldest revision to keep", positiveWholeNumber)
    .description("discard the history before <revision>: reads and watches at older revisions fail from then on")
    .option("--physical", "accepted as etcdctl does; raftkv always answers once the compaction is applied")
    .addHelpText("after", "\nExample:\n  raftkv compaction 1200")
    .action((revision: number, _flags: unknown, command: Command) =>
      withClient(command, async ({ client, options }) => {
        const header = await client.kv.compact(revision, { physical: true });
        show(options.writeOut, { json: () => ({ header: headerJson(header) }), simple: () => [`compacted revision ${revision}`] });
      }),
    );
}
