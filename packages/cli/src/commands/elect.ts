/**
 * `raftkv elect <name> [proposal]`: campaigns with the proposal and, once
 * leader, shows it and leads until Ctrl-C (then resigns); with --listen,
 * shows each leader of the election as it changes instead.
 */
import type { Client, LeaderView } from "@raftkv/client";
import type { Command } from "commander";
import { positiveWholeNumber } from "../arguments.js";
import { SilentExit, UsageError } from "../errors.js";
import type { OutputFormat } from "../global-options.js";
import { show, type Rendering } from "../output.js";
import { withClient } from "../session.js";
import { firstAborted, shutdownSignal, signalExitCode } from "../signals.js";

interface ElectFlags {
  readonly listen?: boolean;
  readonly ttl: number;
}

const EXAMPLES = `
Examples:
  raftkv elect scheduler host-a:8080     campaign; once leader, print the leader key and value and lead until Ctrl-C
  raftkv elect scheduler --listen        print the leader's key and value now and on every change`;

export function registerElect(program: Command): void {
  program
    .command("elect <name> [proposal]")
    .description("campaign in an election with <proposal> and lead until Ctrl-C, or --listen to its leaders")
    .option("-l, --listen", "observe the election instead of campaigning")
    .option("--ttl <seconds>", "lease TTL: how long a crashed leader keeps its place", positiveWholeNumber, 10)
    .addHelpText("after", EXAMPLES)
    .action((name: string, proposal: string | undefined, flags: ElectFlags, command: Command) =>
      withClient(command, async ({ client, options }) => {
        if (flags.listen) {
          if (proposal !== undefined) throw new UsageError("--listen observes: it takes no proposal");
          return listen(client, name, options.writeOut);
        }
        if (proposal === undefined) throw new UsageError("give a proposal to campaign with, or --listen to observe");
        return campaign(client, name, proposal, flags.ttl, options.writeOut);
      }),
    );
}

async function campaign(client: Client, name: string, proposal: string, ttl: number, format: OutputFormat): Promise<void> {
  const { Election } = await import("@raftkv/client");
  const stop = shutdownSignal();
  const leadership = await new Election(client, name, { ttl }).campaign(proposal, { signal: stop }).catch((error: unknown) => {
    // Ctrl-C before winning withdraws the candidacy.
    throw stop.aborted ? new SilentExit(signalExitCode(stop.reason as NodeJS.Signals)) : error;
  });
  try {
    show(format, leaderRendering({ key: leadership.key, value: Buffer.from(proposal), createRevision: leadership.createRevision, lease: leadership.leaseId }));
    if ((await firstAborted(stop, leadership.lost)) === leadership.lost) throw leadership.lost.reason;
  } finally {
    await leadership.resign();
  }
}

async function listen(client: Client, name: string, format: OutputFormat): Promise<void> {
  const { Election } = await import("@raftkv/client");
  const stop = shutdownSignal();
  try {
    for await (const leader of new Election(client, name).observe({ signal: stop })) show(format, leaderRendering(leader));
  } catch (error) {
    // Ctrl-C in the middle of a read ends that read with an AbortError: that is the way out, not a failure.
    if (!stop.aborted) throw error;
  }
}

/** etcdctl's form: the leader's key, then its value. */
function leaderRendering(leader: Pick<LeaderView, "key" | "value" | "createRevision" | "lease">): Rendering {
  return {
    json: () => ({ key: leader.key.toString("base64"), value: leader.value.toString("base64"), create_revision: leader.createRevision, lease: leader.lease }),
    simple: () => [leader.key.toString(), leader.value.toString()],
  };
}
