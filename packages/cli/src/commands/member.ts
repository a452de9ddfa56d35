/**
 * `raftkv member list|add|remove|promote|update`: membership changes through
 * the log, with members named by name or by hex id as the list shows them.
 * A change is sent once: if the member handling it fails midway, the client
 * says the outcome is unknown rather than risk applying it twice (run
 * member list to see).
 */
import type { Member, MemberAddResult, MemberListResult, ResponseHeader } from "@raftkv/client";
import type { Command } from "commander";
import { toHex, urlList } from "../arguments.js";
import { headerJson, memberJson } from "../json-shapes.js";
import { findMember, memberStatus } from "../members.js";
import { show, tableOf, type Column, type Rendering } from "../output.js";
import { withClient, withLeaderClient, type Session } from "../session.js";

const EXAMPLES = `
Examples:
  raftkv member list
  raftkv member add n4 --peer-urls http://10.0.0.4:2380 --learner
        then start n4 with the RAFTKV_… variables it prints
  raftkv member promote n4              once the learner has caught up
  raftkv member update n4 --peer-urls http://10.0.0.14:2380
  raftkv member remove 1cd79042fb9d2a   members by name or by hex id`;

const MEMBER_COLUMNS: readonly Column<Member>[] = [
  ["ID", (member) => toHex(member.id)],
  ["STATUS", memberStatus],
  ["NAME", (member) => member.name],
  ["PEER ADDRS", (member) => member.peerUrls.join(",")],
  ["CLIENT ADDRS", (member) => member.clientUrls.join(",")],
  ["IS LEARNER", (member) => String(member.isLearner)],
];

export function registerMember(program: Command): void {
  const member = program.command("member").description("list and change the cluster's members").addHelpText("after", EXAMPLES);
  member
    .command("list")
    .description("list the members: id, status, name, peer and client URLs, learner or voter")
    .action((_flags: unknown, command: Command) =>
      withClient(command, async ({ client, options }) => show(options.writeOut, listRendering(await client.cluster.memberList()))),
    );
  member
    .command("add <name>")
    .description("add a member (as a learner with --learner), and print how to start it")
    .requiredOption("--peer-urls <urls>", "the new member's comma-separated peer URLs", urlList)
    .option("--learner", "add it as a learner: it replicates but neither votes nor counts for quorum until promoted")
    .action((name: string, flags: { peerUrls: string[]; learner?: boolean }, command: Command) =>
      withClient(command, async ({ client, options }) => {
        const added = await client.cluster.memberAdd(flags.peerUrls, { isLearner: flags.learner ?? false });
        show(options.writeOut, addRendering(added, name));
      }),
    );
  member
    .command("remove <member>")
    .description("remove a member, named by name or hex id")
    .action((nameOrId: string, _flags: unknown, command: Command) =>
      withClient(command, (session) => change(session, nameOrId, "removed from", (id) => session.client.cluster.memberRemove(id))),
    );
  member
    .command("promote <member>")
    .description("make a learner that has caught up a voting member")
    .action((nameOrId: string, _flags: unknown, command: Command) =>
      // Only the leader knows how far a learner has caught up, so only the leader takes a promotion.
      withLeaderClient(command, (session) => change(session, nameOrId, "promoted in", (id) => session.client.cluster.memberPromote(id))),
    );
  member
    .command("update <member>")
    .description("change a member's peer URLs")
    .requiredOption("--peer-urls <urls>", "the member's new comma-separated peer URLs", urlList)
    .action((nameOrId: string, flags: { peerUrls: string[] }, command: Command) =>
      withClient(command, (session) => change(session, nameOrId, "updated in", (id) => session.client.cluster.memberUpdate(id, flags.peerUrls))),
    );
}

/** Finds the member, applies `apply` to its id, and says so etcdctl's way: "Member 8e9e… removed from cluster 1c4…". */
async function change(session: Session, nameOrId: string, done: string, apply: (id: number) => Promise<MemberListResult>): Promise<void> {
  const { members } = await session.client.cluster.memberList();
  const target = findMember(members, nameOrId);
  const result = await apply(target.id);
  show(session.options.writeOut, {
    json: () => ({ header: headerJson(result.header), members: result.members.map(memberJson) }),
    simple: () => [`Member ${toHex(target.id)} ${done} cluster ${clusterOf(result.header)}`],
  });
}

function clusterOf(header: ResponseHeader): string {
  return toHex(header.clusterId);
}

function listRendering(result: MemberListResult): Rendering {
  const table = tableOf(result.members, MEMBER_COLUMNS);
  return {
    json: () => ({ header: headerJson(result.header), members: result.members.map(memberJson) }),
    simple: () => table.rows.map((row) => row.join(", ")),
    table: () => table,
  };
}

/** What to set to start the new member, in the environment variables `raftkv serve` reads. */
function addRendering(added: MemberAddResult, name: string): Rendering {
  const nameOf = (member: Member): string => (member.id === added.member.id ? name : member.name);
  // A member that has not started yet has no name to list it under; it is not needed to join.
  const initialCluster = added.members.filter((member) => nameOf(member) !== "").flatMap((member) => member.peerUrls.map((url) => `${nameOf(member)}=${url}`));
  return {
    json: () => ({ header: headerJson(added.header), member: memberJson(added.member), members: added.members.map(memberJson) }),
    simple: () => [
      `Member ${toHex(added.member.id)} added to cluster ${clusterOf(added.header)}`,
      "",
      `RAFTKV_NAME="${name}"`,
      `RAFTKV_INITIAL_CLUSTER="${initialCluster.join(",")}"`,
      `RAFTKV_INITIAL_ADVERTISE_PEER_URLS="${added.member.peerUrls.join(",")}"`,
      `RAFTKV_INITIAL_CLUSTER_STATE="existing"`,
    ],
  };
}
