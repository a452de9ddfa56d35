/**
 * `raftkv serve`: runs one member in this process until SIGTERM or SIGINT,
 * then stops it gracefully, a leader first handing leadership to a follower.
 * A member whose storage fails exits with EXIT_STORAGE_FAILURE after a short
 * grace (unless --storage-failure-exit=false), for a supervisor to restart;
 * so does one that cannot start for a disk that refuses writes (a full one,
 * say), so that the supervisor tries again until space is back.
 */
import type { Command } from "commander";
import type { NodeConfig, RaftkvNode } from "@raftkv/server";
import { EXIT_STORAGE_FAILURE, STORAGE_FAILURE_GRACE_MS, isStorageError } from "@raftkv/server/storage-failure";
import { setTimeout as delay } from "node:timers/promises";
import { addServeFlags, nodeConfigFrom, serveFlagValues } from "../serve-flags.js";
import { firstShutdownSignal } from "../signals.js";

/** What the process running a member may want to hear of it. */
export interface ServeHooks {
  /** Called once the member has started (Raft runs and its client URLs answer). */
  readonly onStarted?: () => void;
}

export function registerServe(program: Command, hooks: ServeHooks = {}): void {
  const serve = program.command("serve").description("run one raftkv member in this process; flags and environment variables follow etcd's");
  addServeFlags(serve);
  serve.action(async () => serveUntilSignalled(await nodeConfigFrom(serveFlagValues(serve), process.env), hooks));
}

async function serveUntilSignalled(config: NodeConfig, hooks: ServeHooks): Promise<void> {
  // Listen before starting: a signal that arrives during start-up still gets
  // an orderly stop as soon as the node is up.
  const shutdown = firstShutdownSignal();
  const { startNode } = await import("@raftkv/server"); // see nodeConfigFrom() on why not at the top
  const node = await startNode(config).catch((error: unknown) => {
    if (!isStorageError(error) || !config.storageFailureExit) throw error;
    process.stderr.write(
      `raftkv: member ${config.name} could not start: its storage refused a write (${String(error)}); exiting with status ${EXIT_STORAGE_FAILURE}\n`,
    );
    process.exit(EXIT_STORAGE_FAILURE);
  });
  hooks.onStarted?.();
  if (config.storageFailureExit) void node.storageFailed.then(() => exitAfterGrace(node));
  await shutdown;
  await node.stop({ transferLeadership: true });
}

/**
 * The member has said why on /health and in its log; after the grace it
 * exits without the graceful stop, which would wait on the disk that failed.
 */
async function exitAfterGrace(node: RaftkvNode): Promise<never> {
  await delay(STORAGE_FAILURE_GRACE_MS);
  process.stderr.write(`raftkv: member ${node.name} exits with status ${EXIT_STORAGE_FAILURE}: its storage failed (see its log)\n`);
  process.exit(EXIT_STORAGE_FAILURE);
}
