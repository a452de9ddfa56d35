/**
 * `raftkv snapshot save|status|restore`: backups, like etcdctl's.
 * save streams a snapshot from a member's /v3/maintenance/snapshot into a
 * file, verified before it is kept; status describes a file; restore makes a
 * data directory for a member of a new cluster serving exactly that data.
 */
import { rename, rm, writeFile, stat } from "node:fs/promises";
import type { Client } from "@raftkv/client";
import type { Command } from "commander";
import { globalOptions, type OutputFormat } from "../global-options.js";
import { printJson } from "../output.js";
import { withClient } from "../session.js";

export function registerSnapshot(program: Command): void {
  const snapshot = program.command("snapshot").description("save, inspect and restore backups");
  snapshot
    .command("save <file>")
    .description("stream a snapshot from a member (the first of --endpoints that answers) into <file>")
    .action((file: string, _options: unknown, command: Command) => withClient(command, ({ client }) => save(file, client)));
  snapshot
    .command("status <file>")
    .description("verify <file> and print its checksum, revision, key count and size (-w table or json)")
    .action(async (file: string, _options: unknown, command: Command) => status(file, globalOptions(command).writeOut));
  snapshot
    .command("restore <file>")
    .description("create a member's data directory for a new cluster from <file>; etcdctl's flags and defaults")
    .option("--name <name>", "the member this data directory is for", "default")
    .option("--data-dir <dir>", "the new member's data directory, which must not exist or be empty (default: <name>.raftkv)")
    .option("--initial-cluster <pairs>", "the new cluster: name=peerUrl,... (default: <name>=<initial-advertise-peer-urls>)")
    .option("--initial-cluster-token <token>", "the new cluster's token", "raftkv-cluster")
    .option("--initial-advertise-peer-urls <url>", "this member's peer URL, as --initial-cluster names it", "http://localhost:2380")
    .option("--skip-hash-check", "accepted for etcdctl's scripts; a raftkv snapshot is always verified whole", false)
    .action(async (file: string, options: RestoreFlags, command: Command) => restore(file, options, (flag) => command.getOptionValueSource(flag) === "cli"));
}

interface RestoreFlags {
  readonly name: string;
  readonly dataDir?: string;
  readonly initialCluster?: string;
  readonly initialClusterToken: string;
  readonly initialAdvertisePeerUrls: string;
}

async function save(file: string, client: Client): Promise<void> {
  const temporary = `${file}.part`;
  try {
    const bytes = await download(client, temporary);
    const { verifySnapshotFile } = await import("@raftkv/snapshot");
    const header = await verifySnapshotFile<unknown>(temporary);
    await rename(temporary, file);
    process.stdout.write(`Snapshot saved at ${file}: index ${header.raft.index}, ${bytes} bytes\n`);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

/** Writes the streamed blobs to `path`, showing progress on stderr; returns the byte count. */
async function download(client: Client, path: string): Promise<number> {
  const blobs: Buffer[] = [];
  let received = 0;
  for await (const blob of client.maintenance.snapshot()) {
    blobs.push(blob);
    received += blob.byteLength;
    process.stderr.write(`\rreceived ${received} bytes`);
  }
  process.stderr.write("\n");
  await writeFile(path, Buffer.concat(blobs));
  return received;
}

async function status(file: string, format: OutputFormat): Promise<void> {
  const { snapshotStatus } = await import("@raftkv/server");
  const described = await snapshotStatus(file, (await stat(file)).size);
  if (format === "json") {
    printJson(described);
    return;
  }
  const rows: [string, string][] = [
    ["HASH (SHA-256)", described.sha256],
    ["RAFT INDEX", String(described.index)],
    ["REVISION", String(described.revision)],
    ["TOTAL KEYS", String(described.keyCount)],
    ["TOTAL SIZE", `${described.bytes} bytes`],
    ["MEMBERS", described.members.join(", ")],
  ];
  const width = Math.max(...rows.map(([name]) => name.length));
  for (const [name, value] of rows) process.stdout.write(`${name.padEnd(width)}  ${value}\n`);
}

/** `given(flag)`: whether the command line set the flag (rather than its default). */
async function restore(file: string, flags: RestoreFlags, given: (flag: keyof RestoreFlags) => boolean): Promise<void> {
  const { parseInitialCluster, restoreSnapshot } = await import("@raftkv/server");
  const initialCluster = parseInitialCluster(flags.initialCluster ?? `${flags.name}=${flags.initialAdvertisePeerUrls}`);
  // etcd's checks, for a member named on the command line: it is in the new cluster, at the peer URL it advertises.
  if (given("name") && !initialCluster.has(flags.name)) {
    throw new Error(`couldn't find local name "${flags.name}" in the initial cluster configuration`);
  }
  if (given("initialAdvertisePeerUrls") && initialCluster.get(flags.name) !== flags.initialAdvertisePeerUrls) {
    throw new Error(`--initial-advertise-peer-urls ${flags.initialAdvertisePeerUrls} is not ${flags.name}'s URL in --initial-cluster`);
  }
  const dataDir = flags.dataDir ?? `${flags.name}.raftkv`;
  const restored = await restoreSnapshot({ file, dataDir, initialCluster, initialClusterToken: flags.initialClusterToken });
  process.stdout.write(
    `Restored index ${restored.index} into ${dataDir} for members ` +
      `${restored.members.map((member) => member.name).join(", ")}; start each with raftkv serve and the same --initial-cluster\n`,
  );
}
