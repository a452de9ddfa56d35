/**
 * A node's configuration, with etcd's flag names and defaults where etcd has
 * them, and the ids derived from it.
 */
import { createHash } from "node:crypto";
import { invalidArgument } from "./errors.js";

export interface NodeConfig {
  readonly name: string;
  readonly dataDir: string;
  readonly listenClientUrls: readonly string[];
  readonly advertiseClientUrls: readonly string[];
  readonly listenPeerUrls: readonly string[];
  readonly initialAdvertisePeerUrls: readonly string[];
  /** name=peerUrl pairs of the founding members. */
  readonly initialCluster: ReadonlyMap<string, string>;
  readonly initialClusterState: "new" | "existing";
  readonly initialClusterToken: string;
  readonly heartbeatIntervalMs: number;
  readonly electionTimeoutMs: number;
  readonly snapshotCount: number;
  /** Entries kept below a snapshot so followers slightly behind catch up from the log (etcd's --snapshot-catchup-entries). */
  readonly snapshotCatchUpEntries: number;
  readonly logLevel: string;
  /** Deliberate bugs, for proving that the fault-injection harness finds them. Never in production. */
  readonly unsafe: readonly UnsafeBehaviour[];
}

export const UNSAFE_BEHAVIOURS = [
  /** Serve linearizable reads from local state without a ReadIndex round. */
  "local-reads",
  /** Acknowledge writes before their WAL fsync; the disk is written every half second. */
  "ack-before-fsync",
  /** Commit entries of earlier terms by counting replicas (Raft's Figure 8). */
  "commit-any-term",
] as const;

export type UnsafeBehaviour = (typeof UNSAFE_BEHAVIOURS)[number];

/** One Raft tick. Heartbeat and election timeouts are whole numbers of ticks. */
export const TICK_MS = 10;

export interface Endpoint {
  readonly host: string;
  readonly port: number;
}

export function parseUrl(url: string): Endpoint {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw invalidArgument(`invalid URL ${JSON.stringify(url)}`);
  }
  if (parsed.protocol !== "http:") throw invalidArgument(`unsupported URL scheme in ${url}: only http:// is served`);
  if (!parsed.port) throw invalidArgument(`URL ${url} has no port`);
  return { host: parsed.hostname, port: Number(parsed.port) };
}

/** Parses etcd's `name1=http://host:port,name2=…` form. */
export function parseInitialCluster(text: string): Map<string, string> {
  const members = new Map<string, string>();
  for (const pair of text.split(",").map((part) => part.trim()).filter(Boolean)) {
    const separator = pair.indexOf("=");
    if (separator <= 0) throw invalidArgument(`--initial-cluster: expected name=url, got ${JSON.stringify(pair)}`);
    const name = pair.slice(0, separator);
    const url = pair.slice(separator + 1);
    parseUrl(url);
    if (members.has(name)) throw invalidArgument(`--initial-cluster: member ${name} is listed twice`);
    members.set(name, url);
  }
  if (members.size === 0) throw invalidArgument("--initial-cluster is empty");
  return members;
}

/** A positive id below 2^53 from a stable digest, so every member computes the same ids. */
function digestId(...parts: string[]): number {
  const digest = createHash("sha256").update(parts.join("\n")).digest();
  const id = digest.readUIntBE(0, 6) * 32 + (digest[6]! >> 3);
  return id === 0 ? 1 : id;
}

/**
 * A member is known by its peer URL within its cluster: a member being added
 * gets the same id whether the cluster computes it (member add) or the new
 * member does (at its first start).
 */
export function memberIdOf(peerUrl: string, token: string): number {
  return digestId("member", peerUrl, token);
}

/** Members started with the same token form one cluster; the token names it. */
export function clusterIdOf(token: string): number {
  return digestId("cluster", token);
}

export function defaultConfig(overrides: Partial<NodeConfig> = {}): NodeConfig {
  const name = overrides.name ?? "default";
  const peerUrl = overrides.initialAdvertisePeerUrls?.[0] ?? overrides.listenPeerUrls?.[0] ?? "http://127.0.0.1:2380";
  const clientUrls = overrides.listenClientUrls ?? ["http://127.0.0.1:2379"];
  const config: NodeConfig = {
    name,
    dataDir: `${name}.raftkv`,
    listenClientUrls: clientUrls,
    advertiseClientUrls: clientUrls,
    listenPeerUrls: [peerUrl],
    initialAdvertisePeerUrls: [peerUrl],
    initialCluster: new Map([[name, peerUrl]]),
    initialClusterState: "new",
    initialClusterToken: "raftkv-cluster",
    heartbeatIntervalMs: 100,
    electionTimeoutMs: 1000,
    snapshotCount: 10_000,
    snapshotCatchUpEntries: 5_000,
    logLevel: "info",
    unsafe: [],
    ...overrides,
  };
  validate(config);
  return config;
}

function validate(config: NodeConfig): void {
  if (config.heartbeatIntervalMs < TICK_MS) throw invalidArgument(`--heartbeat-interval must be at least ${TICK_MS} ms`);
  if (config.electionTimeoutMs < 5 * config.heartbeatIntervalMs) {
    throw invalidArgument("--election-timeout must be at least five times --heartbeat-interval");
  }
  if (!config.initialCluster.has(config.name) && config.initialClusterState === "new") {
    throw invalidArgument(`--initial-cluster does not name this member (${config.name})`);
  }
}
