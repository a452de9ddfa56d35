/**
 * `raftkv endpoint status|health|hashkv`: each endpoint asked on its own
 * (no failover: the point is what that member says). --cluster asks every
 * member's client URLs from the member list instead of --endpoints.
 * An endpoint that does not answer is reported, and the exit code is 1.
 */
import type { Client, EndpointHealth, HashKvResult, MemberStatus } from "@raftkv/client";
import type { Command } from "commander";
import prettyBytes from "pretty-bytes";
import { toHex, wholeNumber } from "../arguments.js";
import { SilentExit } from "../errors.js";
import { headerJson } from "../json-shapes.js";
import { show, tableOf, type Column, type Rendering } from "../output.js";
import { endpointFailure, withClient, withClusterClient, type Session } from "../session.js";

const EXAMPLES = `
Examples:
  raftkv endpoint status --cluster          every member: leader, term, index, db size
  raftkv endpoint health -w json
  raftkv endpoint hashkv --cluster --rev 1200
        equal hashes at one revision: the members hold the same data`;

/** An endpoint that gave no answer, and why. */
interface Unanswered {
  readonly endpoint: string;
  readonly unanswered: string;
}

const STATUS_COLUMNS: readonly Column<MemberStatus>[] = [
  ["ENDPOINT", (status) => status.endpoint],
  ["ID", (status) => toHex(status.header.memberId)],
  ["VERSION", (status) => status.version],
  ["DB SIZE", (status) => prettyBytes(status.dbSize)],
  ["IS LEADER", (status) => String(status.leader === status.header.memberId)],
  ["IS LEARNER", (status) => String(status.isLearner)],
  ["RAFT TERM", (status) => String(status.raftTerm)],
  ["RAFT INDEX", (status) => String(status.raftIndex)],
  ["RAFT APPLIED INDEX", (status) => String(status.raftAppliedIndex)],
  ["ERRORS", (status) => status.errors.join(", ")],
];

const HEALTH_COLUMNS: readonly Column<EndpointHealth>[] = [
  ["ENDPOINT", (health) => health.endpoint],
  ["HEALTH", (health) => String(health.healthy)],
  ["TOOK", (health) => `${health.tookMs}ms`],
  ["ERROR", (health) => health.reason],
];

const HASH_COLUMNS: readonly Column<HashKvResult>[] = [
  ["ENDPOINT", (hash) => hash.endpoint],
  ["HASH", (hash) => String(hash.hash)],
  ["REVISION", (hash) => String(hash.header.revision)],
  ["COMPACT REVISION", (hash) => String(hash.compactRevision)],
];

export function registerEndpoint(program: Command): void {
  const endpoint = program.command("endpoint").description("ask each endpoint for its status, health or data hash").addHelpText("after", EXAMPLES);
  endpoint
    .command("status")
    .description("each endpoint's member id, version, db size, leadership and raft progress")
    .option("--cluster", "ask every member listed by the cluster, not just --endpoints")
    .action((flags: { cluster?: boolean }, command: Command) => onEachEndpoint(command, flags, status));
  endpoint
    .command("health")
    .description("whether each endpoint is up and has a leader")
    .option("--cluster", "ask every member listed by the cluster, not just --endpoints")
    .action((flags: { cluster?: boolean }, command: Command) => onEachEndpoint(command, flags, health));
  endpoint
    .command("hashkv")
    .description("a hash of each endpoint's keys and values up to a revision")
    .option("--cluster", "ask every member listed by the cluster, not just --endpoints")
    .option("--rev <revision>", "hash the store as of this revision (0: now)", wholeNumber, 0)
    .action((flags: { cluster?: boolean; rev: number }, command: Command) => onEachEndpoint(command, flags, (session) => hashKv(session, flags.rev)));
}

/** Runs `work` with a client for --endpoints, or for every member's client URLs with --cluster. */
async function onEachEndpoint(command: Command, flags: { cluster?: boolean }, work: (session: Session) => Promise<void>): Promise<void> {
  return flags.cluster ? withClusterClient(command, work) : withClient(command, work);
}

async function status({ client, options }: Session): Promise<void> {
  const answers = await askEach(client, (endpoint) => client.maintenance.status({ endpoint }));
  const statuses = answers.filter(isAnswer);
  show(
    options.writeOut,
    eachEndpoint(statuses, STATUS_COLUMNS, (status) => ({ Endpoint: status.endpoint, Status: statusJson(status) })),
  );
  reportUnanswered(answers.filter(isUnanswered));
}

async function health({ client, options }: Session): Promise<void> {
  const healths = (await client.maintenance.health()).map((each) => ({ ...each, reason: oneLine(each.reason) }));
  show(options.writeOut, {
    ...eachEndpoint(healths, HEALTH_COLUMNS, (each) => ({ endpoint: each.endpoint, health: each.healthy, took: `${each.tookMs}ms`, error: each.reason })),
    // etcdctl's sentences, which scripts grep for.
    simple: () =>
      healths.map((each) => (each.healthy ? `${each.endpoint} is healthy: took = ${each.tookMs}ms` : `${each.endpoint} is unhealthy: ${each.reason}`)),
  });
  if (healths.some((each) => !each.healthy)) {
    process.stderr.write("error: unhealthy cluster\n");
    throw new SilentExit(1);
  }
}

async function hashKv({ client, options }: Session, revision: number): Promise<void> {
  const answers = await askEach(client, (endpoint) => client.maintenance.hashKv(revision, { endpoint }));
  const hashes = answers.filter(isAnswer);
  show(
    options.writeOut,
    eachEndpoint(hashes, HASH_COLUMNS, (hash) => ({
      Endpoint: hash.endpoint,
      HashKV: { header: headerJson(hash.header), hash: hash.hash, compact_revision: hash.compactRevision },
    })),
  );
  reportUnanswered(answers.filter(isUnanswered));
}

/** Asks every endpoint at once, each on its own: its answer, or why there was none. */
async function askEach<T extends { endpoint: string }>(client: Client, ask: (endpoint: string) => Promise<T>): Promise<(T | Unanswered)[]> {
  return Promise.all(
    client.endpoints.map(async (endpoint) => {
      try {
        return await ask(endpoint);
      } catch (error) {
        return { endpoint, unanswered: endpointFailure(error) };
      }
    }),
  );
}

function isUnanswered<T>(answer: T | Unanswered): answer is Unanswered {
  return typeof answer === "object" && answer !== null && "unanswered" in answer;
}

function isAnswer<T>(answer: T | Unanswered): answer is T {
  return !isUnanswered(answer);
}

/** The client words some failures over several lines; a table cell or a log line wants one. */
function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, " ");
}

/** One row per endpoint; simple prints the row's cells comma-separated, as etcdctl does. */
function eachEndpoint<T>(results: readonly T[], columns: readonly Column<T>[], json: (result: T) => object): Rendering {
  const table = tableOf(results, columns);
  return { json: () => results.map(json), simple: () => table.rows.map((row) => row.join(", ")), table: () => table };
}

/** Names each endpoint that did not answer, after the answers; any such endpoint fails the command. */
function reportUnanswered(unanswered: readonly Unanswered[]): void {
  for (const { endpoint, unanswered: why } of unanswered) process.stderr.write(`error: ${endpoint}: ${why}\n`);
  if (unanswered.length > 0) throw new SilentExit(1);
}

function statusJson(status: MemberStatus): object {
  return {
    header: headerJson(status.header),
    version: status.version,
    dbSize: status.dbSize,
    dbSizeInUse: status.dbSizeInUse,
    leader: status.leader,
    raftIndex: status.raftIndex,
    raftTerm: status.raftTerm,
    raftAppliedIndex: status.raftAppliedIndex,
    isLearner: status.isLearner,
    errors: status.errors,
  };
}
