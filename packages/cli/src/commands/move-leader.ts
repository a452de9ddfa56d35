/**
 * `raftkv move-leader <member>`: hands leadership to another voting member.
 * The request must reach the current leader, which is found among every
 * member's client URLs (not only --endpoints).
 */
import type { Command } from "commander";
import { toHex } from "../arguments.js";
import { headerJson } from "../json-shapes.js";
import { findMember } from "../members.js";
import { show } from "../output.js";
import { withClusterClient } from "../session.js";

export function registerMoveLeader(program: Command): void {
  program
    .command("move-leader <member>")
    .description("transfer leadership to <member> (by name or hex id), a voting member")
    .addHelpText("after", "\nExample:\n  raftkv move-leader n2")
    .action(async (nameOrId: string, _flags: unknown, command: Command) =>
      withClusterClient(command, async ({ client, options }) => {
        const target = findMember((await client.cluster.memberList()).members, nameOrId);
        // The old leader answers the transfer: its id is in the header.
        const header = await client.maintenance.moveLeader(target.id);
        show(options.writeOut, {
          json: () => ({ header: headerJson(header) }),
          simple: () => [`Leadership transferred from ${toHex(header.memberId)} to ${toHex(target.id)}`],
        });
      }),
    );
}
