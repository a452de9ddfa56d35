/**
 * The `raftkv` command line. Each subcommand lives in its own module under
 * commands/ and registers itself on the program. run() turns the outcome into
 * an exit code: 0 done, 1 failed, 2 called the wrong way.
 */
import { readFileSync } from "node:fs";
import { Command } from "commander";
import { registerAlarm } from "./commands/alarm.js";
import { registerAuth } from "./commands/auth.js";
import { registerCheck } from "./commands/check.js";
import { registerClusterUp } from "./commands/cluster-up.js";
import { registerCompaction } from "./commands/compaction.js";
import { registerDefrag } from "./commands/defrag.js";
import { registerDel } from "./commands/del.js";
import { registerElect } from "./commands/elect.js";
import { registerEndpoint } from "./commands/endpoint.js";
import { registerGet } from "./commands/get.js";
import { registerLease } from "./commands/lease.js";
import { registerLock } from "./commands/lock.js";
import { registerMember } from "./commands/member.js";
import { registerMoveLeader } from "./commands/move-leader.js";
import { registerPut } from "./commands/put.js";
import { registerServe } from "./commands/serve.js";
import { registerSnapshot } from "./commands/snapshot.js";
import { registerTxn } from "./commands/txn.js";
import { registerWatch } from "./commands/watch.js";
import { addGlobalOptions } from "./global-options.js";
import { HELP_LAYOUT, runProgram } from "./run-program.js";

const EXAMPLES = `
Examples:
  raftkv cluster up                    a 3-node cluster on 127.0.0.1, data in ./data
  raftkv serve --name n1 --data-dir n1.raftkv
  raftkv put greeting hello
  raftkv get greeting -w json
  raftkv --endpoints http://127.0.0.1:2379,http://127.0.0.1:22379 member list
  raftkv snapshot save backup.snap --endpoints http://127.0.0.1:2379
  raftkv <command> --help              the flags of one command`;

/** Commands that run nodes rather than talk to a cluster: the client options mean nothing to them. */
const NODE_COMMANDS = new Set(["serve", "cluster"]);

function buildProgram(): Command {
  const program = new Command("raftkv")
    .description("A Raft-replicated key-value store with etcd v3 semantics")
    .version(packageVersion())
    .exitOverride()
    .configureHelp(HELP_LAYOUT)
    .addHelpText("after", EXAMPLES);
  addGlobalOptions(program);
  // Subcommands inherit the settings above, so register them afterwards.
  registerServe(program);
  const cluster = program.command("cluster").description("run a cluster on this machine, for development");
  registerClusterUp(cluster);
  registerSnapshot(program);
  registerGet(program);
  registerPut(program);
  registerDel(program);
  registerTxn(program);
  registerWatch(program);
  registerCompaction(program);
  registerLease(program);
  registerLock(program);
  registerElect(program);
  registerMember(program);
  registerEndpoint(program);
  registerMoveLeader(program);
  registerAlarm(program);
  registerDefrag(program);
  registerCheck(program);
  registerAuth(program);
  for (const command of program.commands) if (!NODE_COMMANDS.has(command.name())) showGlobalOptionsInHelp(command);
  return program;
}

/** Lists --endpoints, --write-out and --command-timeout in the help of `command` and its subcommands. */
function showGlobalOptionsInHelp(command: Command): void {
  command.configureHelp({ ...command.configureHelp(), showGlobalOptions: true });
  for (const subcommand of command.commands) showGlobalOptionsInHelp(subcommand);
}

/** Runs the command line `argv` (as in process.argv) and returns the exit code. */
export async function run(argv: readonly string[]): Promise<number> {
  return runProgram(buildProgram(), argv);
}

/** This package's version, from its package.json (two levels above dist/src/). */
function packageVersion(): string {
  const manifest = readFileSync(new URL("../../package.json", import.meta.url), "utf8");
  return (JSON.parse(manifest) as { version: string }).version;
}
