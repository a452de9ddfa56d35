/**
 * `raftkv snapshot save|status|restore`: backups, like etcdctl's.
 * save streams a snapshot from a member's /v3/maintenance/snapshot into a
 * file, verified before it is kept; status describes a file; restore makes a
 * data directory for a member of a new cluster serving exactly that data.
 */
import { rename, rm, writeFile, stat } from "node:fs/promises";
import { fetch } from "undici";
import type { Command } from "commander";
import { UsageError } from "../errors.js";

const DEFAULT_ENDPOINTS = "http://127.0.0.1:2379";

export function registerSnapshot(program: Command): void {
  const snapshot = program.command("snapshot").description("save, inspect and restore backups");
  snapshot
    .command("save <file>")
    .description("stream a snapshot from a member into <file>")
    .option("--endpoints <urls>", "comma-separated client URLs; the first that answers is used", process.env.RAFTKV_ENDPOINTS ?? DEFAULT_ENDPOINTS)
    .action(async (file: string, options: { endpoints: string }) => save(file, options.endpoints.split(",")));
  snapshot
    .command("status <file>")
    .description("verify <file> and print its checksum, revision, key count and size")
    .option("-w, --write-out <format>", "table or json", "table")
    .action(async (file: string, options: { writeOut: string }) => status(file, options.writeOut));
  snapshot
    .command("restore <file>")
    .description("create a member's data directory for a new cluster from <file>")
    .requiredOption("--data-dir <dir>", "the new member's data directory (must not exist or be empty)")
    .requiredOption("--initial-cluster <pairs>", "the new cluster: name=peerUrl,...")
    .option("--initial-cluster-token <token>", "the new cluster's token", "raftkv-cluster")
    .action(async (file: string, options: { dataDir: string; initialCluster: string; initialClusterToken: string }) =>
      restore(file, options),
    );
}

async function save(file: string, endpoints: readonly string[]): Promise<void> {
  const temporary = `${file}.part`;
  let lastError: unknown;
  for (const endpoint of endpoints) {
    try {
      const bytes = await download(endpoint.trim(), temporary);
      const { verifySnapshotFile } = await import("@raftkv/snapshot");
      const header = await verifySnapshotFile<unknown>(temporary);
      await rename(temporary, file);
      process.stdout.write(`Snapshot saved at ${file}: index ${header.raft.index}, ${bytes} bytes\n`);
      return;
    } catch (error) {
      lastError = error;
      await rm(temporary, { force: true });
    }
  }
  throw new Error(`no member could send a snapshot (${endpoints.join(", ")}): ${String(lastError)}`);
}

/** Writes the streamed blobs to `path`, printing progress; returns the byte count. */
async function download(endpoint: string, path: string): Promise<number> {
  const response = await fetch(`${endpoint}/v3/maintenance/snapshot`, { method: "POST", body: "{}" });
  if (!response.ok || !response.body) throw new Error(`${endpoint}: HTTP ${response.status}`);
  const blobs: Buffer[] = [];
  let buffered = "";
  let received = 0;
  for await (const piece of response.body) {
    buffered += Buffer.from(piece).toString("utf8");
    const lines = buffered.split("\n");
    buffered = lines.pop() ?? "";
    for (const line of lines.filter(Boolean)) {
      const message = JSON.parse(line) as { result?: { blob?: string; remaining_bytes?: string }; error?: { message: string } };
      if (message.error) throw new Error(message.error.message);
      const blob = Buffer.from(message.result?.blob ?? "", "base64");
      blobs.push(blob);
      received += blob.byteLength;
      const total = received + Number(message.result?.remaining_bytes ?? 0);
      process.stderr.write(`\rreceived ${progressBar(received, total)} ${received}/${total} bytes`);
    }
  }
  process.stderr.write("\n");
  await writeFile(path, Buffer.concat(blobs));
  return received;
}

function progressBar(done: number, total: number, width = 30): string {
  const filled = total === 0 ? width : Math.round((done / total) * width);
  return `[${"#".repeat(filled)}${" ".repeat(width - filled)}]`;
}

async function status(file: string, format: string): Promise<void> {
  if (format !== "table" && format !== "json") throw new UsageError(`--write-out: expected table or json, got ${JSON.stringify(format)}`);
  const { snapshotStatus } = await import("@raftkv/server");
  const described = await snapshotStatus(file, (await stat(file)).size);
  if (format === "json") {
    process.stdout.write(`${JSON.stringify(described)}\n`);
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

async function restore(file: string, options: { dataDir: string; initialCluster: string; initialClusterToken: string }): Promise<void> {
  const { parseInitialCluster, restoreSnapshot } = await import("@raftkv/server");
  const restored = await restoreSnapshot({
    file,
    dataDir: options.dataDir,
    initialCluster: parseInitialCluster(options.initialCluster),
    initialClusterToken: options.initialClusterToken,
  });
  process.stdout.write(
    `Restored index ${restored.index} into ${options.dataDir} for members ` +
      `${restored.members.map((member) => member.name).join(", ")}; start each with raftkv serve and the same --initial-cluster\n`,
  );
}
