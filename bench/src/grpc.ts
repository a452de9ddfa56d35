/**
 * Throughput and latency of raftkv and etcd 3.4 through etcd's gRPC API,
 * side by side: both run as local 3-member clusters, and every row sends the
 * leader of each the same calls, from worker threads of this process or,
 * with --generator clientv3, from a Go program on etcd's clientv3 (etcd's
 * own `benchmark` tool is not packaged in Debian). Rows alternate between
 * the systems, so that the noise of a shared machine falls on both alike.
 * Run: pnpm --filter @raftkv/bench grpc [--duration 10] [--rows put:64,watch] (--help for all)
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeCa, makeCertificate } from "@raftkv/cli/certificates";
import { describeMachine, etcdInstalled, profilingFlags, startSideBySide, stopSideBySide, type ClientSecurity } from "./clusters.js";
import { parseOptions, USAGE, type Options } from "./grpc/options.js";
import { markdown, progressLine, type GrpcResults } from "./grpc/report.js";
import { buildClientv3Load, clientv3Rows } from "./grpc/clientv3.js";
import { measureRow, type RowResult } from "./grpc/run.js";
import { preload } from "./throughput/run.js";

async function main(argv: readonly string[]): Promise<void> {
  if (argv.includes("--help")) return console.log(USAGE);
  const options = parseOptions(argv, etcdInstalled());
  const startedAt = new Date().toISOString();
  const machine = describeMachine();
  const rows = await measureAll(options);
  const { durationS, warmupS, keyspace, connections, workers, security, generator } = options;
  const results: GrpcResults = { startedAt, machine, settings: { durationS, warmupS, keyspace, connections, workers, security, generator }, rows };
  const page = markdown(results);
  await mkdir(options.outDir, { recursive: true });
  await writeFile(join(options.outDir, "grpc.json"), `${JSON.stringify(results, null, 2)}\n`);
  await writeFile(join(options.outDir, "grpc.md"), page);
  console.log(`\n${page}\nresults in ${options.outDir}`);
}

async function measureAll(options: Options): Promise<RowResult[]> {
  // Built before any cluster starts, so that a machine without Go fails at once.
  const clientv3Load = options.generator === "clientv3" ? await buildClientv3Load() : undefined;
  const certificates = await mkdtemp(join(tmpdir(), "bench-grpc-tls-"));
  const tls = options.security === "plain" ? undefined : await clientCertificates(certificates);
  const clusters = await startSideBySide(options.systems, options.basePort, { nodeFlags: await profilingFlags(options.profileDir), ...(tls && { tls }) });
  try {
    if (options.security === "tls+auth") for (const cluster of clusters) await cluster.enableAuth(ROOT_PASSWORD);
    const reads = options.rows.some((row) => row.kind === "range" || row.kind === "serializable");
    if (reads) for (const cluster of clusters) await preload(cluster, options.keyspace);
    const measure = clientv3Load ? clientv3Rows(clientv3Load, tls?.caFile) : measureRow;
    const results: RowResult[] = [];
    for (const row of options.rows) {
      for (const cluster of clusters) {
        const result = await measure(cluster, { row, ...options });
        console.log(progressLine(result));
        results.push(result);
      }
    }
    return results;
  } finally {
    await stopSideBySide(clusters, options.profileDir);
    await rm(certificates, { recursive: true, force: true });
  }
}

const ROOT_PASSWORD = "bench-root";

/** A throw-away CA and the one certificate both systems' members serve with, for 127.0.0.1 (cluster up --tls's, from Debian's openssl). */
async function clientCertificates(dir: string): Promise<ClientSecurity> {
  const ca = await makeCa(dir, "bench-ca");
  const member = await makeCertificate(dir, ca, "member");
  return { caFile: ca.certFile, certFile: member.certFile, keyFile: member.keyFile };
}

await main(process.argv.slice(2));
