/**
 * `raftkv serve`: runs one member in this process until SIGTERM or SIGINT,
 * then stops it gracefully, a leader first handing leadership to a follower.
 */
import type { Command } from "commander";
import type { NodeConfig } from "@raftkv/server";
import { addServeFlags, nodeConfigFrom, serveFlagValues } from "../serve-flags.js";
import { firstShutdownSignal } from "../signals.js";

export function registerServe(program: Command): void {
  const serve = program
    .command("serve")
    .description("run one raftkv member in this process; flags and environment variables follow etcd's");
  addServeFlags(serve);
  serve.action(async () => serveUntilSignalled(await nodeConfigFrom(serveFlagValues(serve), process.env)));
}

async function serveUntilSignalled(config: NodeConfig): Promise<void> {
  // Listen before starting: a signal that arrives during start-up still gets
  // an orderly stop as soon as the node is up.
  const shutdown = firstShutdownSignal();
  const { startNode } = await import("@raftkv/server"); // see nodeConfigFrom() on why not at the top
  const node = await startNode(config);
  await shutdown;
  await node.stop({ transferLeadership: true });
}
