/**
 * `raftkv defrag`: each endpoint's member gives the space of deleted and
 * compacted entries back to its filesystem (LevelDB rewrites its files),
 * one member at a time, while it keeps serving. etcdctl's sentences.
 */
import type { Command } from "commander";
import { SilentExit } from "../errors.js";
import { endpointFailure, withClient, withClusterClient, type Session } from "../session.js";

export function registerDefrag(program: Command): void {
  program
    .command("defrag")
    .description("give the space of deleted and compacted entries back to the filesystem, one member at a time")
    .option("--cluster", "defragment every member listed by the cluster, not just --endpoints")
    .addHelpText("after", "\nExample:\n  raftkv compaction 1200 && raftkv defrag --cluster")
    .action((flags: { cluster?: boolean }, command: Command) => (flags.cluster ? withClusterClient(command, defragEach) : withClient(command, defragEach)));
}

async function defragEach({ client }: Session): Promise<void> {
  let failed = false;
  // One at a time, as etcdctl does: a member rewriting its files answers more slowly meanwhile.
  for (const endpoint of client.endpoints) {
    try {
      await client.maintenance.defragment({ endpoint });
      process.stdout.write(`Finished defragmenting etcd member[${endpoint}]\n`);
    } catch (error) {
      process.stderr.write(`Failed to defragment etcd member[${endpoint}] (${endpointFailure(error)})\n`);
      failed = true;
    }
  }
  if (failed) throw new SilentExit(1);
}
