/**
 * A node's configuration, with etcd's flag names and defaults where etcd has
 * them, and the ids derived from it.
 */
import { createHash } from "node:crypto";
import type { AutoCompactionPolicy } from "@raftkv/mvcc";
import { DEFAULT_BCRYPT_COST, MAX_BCRYPT_COST, MIN_BCRYPT_COST } from "./auth/password.js";
import { DEFAULT_AUTH_TOKEN_TTL_S } from "./auth/tokens.js";
import { invalidArgument } from "./errors.js";

export interface NodeConfig extends ClientTlsConfig, PeerTlsConfig, StorageLimits {
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
  /** etcd's --auto-compaction-mode: periodic or revision. */
  readonly autoCompactionMode: string;
  /** etcd's --auto-compaction-retention: a duration (periodic) or a revision count; "0" turns it off. */
  readonly autoCompactionRetention: string;
  /**
   * etcd's --strict-reconfig-check: refuse a membership change that would
   * leave fewer started voters than a quorum.
   */
  readonly strictReconfigCheck: boolean;
  /** etcd's --experimental-initial-corrupt-check: compare hashes with the peers before serving. */
  readonly initialCorruptCheck: boolean;
  /** etcd's --experimental-corrupt-check-time: how often the leader compares hashes; 0 is never. */
  readonly corruptCheckIntervalMs: number;
  /** host:port to answer DNS on (UDP and TCP); empty: no DNS. */
  readonly dnsAddr: string;
  /** The domain DNS answers for, like Consul's `consul.`: `web.service.raftkv.`. */
  readonly dnsDomain: string;
  /** The TTL of DNS answers, in seconds (Consul's default is 0: resolvers ask again every time). */
  readonly dnsTtlSeconds: number;
  /**
   * How long this member keeps answering DNS from its own state after it
   * last heard from a leader; past that it reads through the leader, and
   * answers SERVFAIL when there is none.
   */
  readonly dnsMaxStaleMs: number;
  /** etcd's --listen-metrics-urls: plain-HTTP listeners for /metrics and /health only. */
  readonly listenMetricsUrls: readonly string[];
  /** etcd's --auth-token: `simple`, or `jwt,pub-key=…,priv-key=…,sign-method=…,ttl=…` (see auth/tokens.ts). */
  readonly authToken: string;
  /** etcd's --auth-token-ttl: how long a simple token lives after its last use, in seconds. */
  readonly authTokenTtlSeconds: number;
  /** etcd's --bcrypt-cost: how slow the password hash is (4 to 16; see auth/password.ts). */
  readonly bcryptCost: number;
  /** Deliberate bugs, for proving that the fault-injection harness finds them. Never in production. */
  readonly unsafe: readonly UnsafeBehaviour[];
}

/** Space and disk failures: etcd's quota, and what is ours. */
export interface StorageLimits {
  /** etcd's --quota-backend-bytes: past this store size NOSPACE is raised; 0 is etcd's default (2 GiB), negative is no quota. */
  readonly quotaBackendBytes: number;
  /** Ours (--wal-reserve-bytes): NOSPACE is raised once the data directory's filesystem has less free; 0 turns the check off. */
  readonly walReserveBytes: number;
  /** Ours (--storage-failure-exit): `raftkv serve` exits with status 74 once storage failed; false keeps it up, unhealthy. */
  readonly storageFailureExit: boolean;
}

/** etcd's DefaultQuotaBytes: 2 GiB. */
export const DEFAULT_QUOTA_BACKEND_BYTES = 2 * 1024 * 1024 * 1024;

export const DEFAULT_STORAGE_LIMITS: StorageLimits = { quotaBackendBytes: 0, walReserveBytes: 16 * 1024 * 1024, storageFailureExit: true };

/** The quota in force: etcd's default for 0, none (Infinity) for a negative value. */
export function effectiveQuotaBytes(quotaBackendBytes: number): number {
  if (quotaBackendBytes < 0) return Infinity;
  return quotaBackendBytes === 0 ? DEFAULT_QUOTA_BACKEND_BYTES : quotaBackendBytes;
}

/** Client TLS, etcd's flags: used when the client URLs are https:// (see http/tls.ts). */
export interface ClientTlsConfig {
  /** etcd's --cert-file and --key-file: the listener's certificate and key (PEM). */
  readonly certFile: string;
  readonly keyFile: string;
  /** etcd's --trusted-ca-file: the CA that signs client certificates. */
  readonly trustedCaFile: string;
  /** etcd's --client-cert-auth: refuse clients without a certificate the trusted CA signed. */
  readonly clientCertAuth: boolean;
  /** etcd's --auto-tls: a self-signed certificate made at start-up, when no cert-file is given. */
  readonly autoTls: boolean;
}

export const NO_CLIENT_TLS: ClientTlsConfig = { certFile: "", keyFile: "", trustedCaFile: "", clientCertAuth: false, autoTls: false };

/** Peer TLS, etcd's flags: used when the peer URLs are https:// (see peer-tls.ts). */
export interface PeerTlsConfig {
  /** etcd's --peer-cert-file and --peer-key-file: what this member shows other members, both ways (PEM). */
  readonly peerCertFile: string;
  readonly peerKeyFile: string;
  /** etcd's --peer-trusted-ca-file: the CA that signs members' certificates. */
  readonly peerTrustedCaFile: string;
  /** etcd's --peer-client-cert-auth: refuse members without a certificate the peer CA signed. */
  readonly peerClientCertAuth: boolean;
  /** etcd's --peer-auto-tls: a self-signed peer certificate made at start-up, when no peer-cert-file is given. */
  readonly peerAutoTls: boolean;
  /** etcd's --peer-cert-allowed-cn: the one CommonName a member's certificate may carry; empty, any. */
  readonly peerCertAllowedCn: string;
}

export const NO_PEER_TLS: PeerTlsConfig = {
  peerCertFile: "",
  peerKeyFile: "",
  peerTrustedCaFile: "",
  peerClientCertAuth: false,
  peerAutoTls: false,
  peerCertAllowedCn: "",
};

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
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:")
    throw invalidArgument(`unsupported URL scheme in ${url}: only http:// and https:// are served`);
  if (!parsed.port) throw invalidArgument(`URL ${url} has no port`);
  return { host: parsed.hostname, port: Number(parsed.port) };
}

/** --dns-addr's `host:port` (`[::1]:8600` for IPv6). */
export function parseDnsAddr(address: string): Endpoint {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(address.trim());
  const port = Number(match?.[3]);
  if (!match || port > 65535) throw invalidArgument(`--dns-addr: expected host:port, got ${JSON.stringify(address)}`);
  return { host: (match[1] ?? match[2])!, port };
}

/**
 * etcd's auto-compaction flags: in periodic mode the retention is a duration
 * ("30m", "1h", or a number of hours); in revision mode a count of revisions.
 * A retention of 0 turns it off.
 */
export function parseAutoCompaction(mode: string, retention: string): AutoCompactionPolicy | undefined {
  if (mode === "revision") {
    const retain = Number(retention);
    if (!Number.isSafeInteger(retain) || retain < 0) throw invalidArgument(`--auto-compaction-retention: expected a revision count, got ${retention}`);
    return retain === 0 ? undefined : { mode, retain, checkIntervalMs: 1000 };
  }
  if (mode !== "periodic") throw invalidArgument(`--auto-compaction-mode: expected periodic or revision, got ${mode}`);
  const retentionMs = parseDurationMs(retention, "h");
  if (retentionMs === undefined) throw invalidArgument(`--auto-compaction-retention: expected a duration like 30m or 1h, got ${retention}`);
  return retentionMs === 0 ? undefined : { mode, retentionMs };
}

const DURATION_UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 } as const;
type DurationUnit = keyof typeof DURATION_UNIT_MS;

/** A duration such as 500ms, 5s, 30m or 1h in milliseconds; a bare number is in `bareUnit`. Undefined if malformed. */
export function parseDurationMs(text: string, bareUnit: DurationUnit): number | undefined {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!match) return undefined;
  return Number(match[1]) * DURATION_UNIT_MS[(match[2] as DurationUnit | undefined) ?? bareUnit];
}

/** Parses etcd's `name1=http://host:port,name2=…` form. */
export function parseInitialCluster(text: string): Map<string, string> {
  const members = new Map<string, string>();
  for (const pair of text
    .split(",")
    .map((part) => part.trim())
    .filter(Boolean)) {
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
    // etcd 3.4's default. Each snapshot copies the whole store to a file,
    // whose writing competes with the WAL for the disk: at 10,000, put
    // throughput under load was a third lower.
    snapshotCount: 100_000,
    snapshotCatchUpEntries: 5_000,
    logLevel: "info",
    autoCompactionMode: "periodic",
    autoCompactionRetention: "0",
    strictReconfigCheck: true,
    initialCorruptCheck: false,
    corruptCheckIntervalMs: 0,
    dnsAddr: "",
    dnsDomain: "raftkv.",
    dnsTtlSeconds: 0,
    // The registry's default instance TTL: an instance that stopped within it could be listed anyway.
    dnsMaxStaleMs: 10_000,
    listenMetricsUrls: [],
    authToken: "simple",
    authTokenTtlSeconds: DEFAULT_AUTH_TOKEN_TTL_S,
    bcryptCost: DEFAULT_BCRYPT_COST,
    ...NO_CLIENT_TLS,
    ...NO_PEER_TLS,
    unsafe: [],
    ...DEFAULT_STORAGE_LIMITS,
    ...overrides,
  };
  validate(config);
  return config;
}

function isHttps(url: string): boolean {
  parseUrl(url);
  return new URL(url).protocol === "https:";
}

/** Whether the client listeners serve TLS: all of them or none (one server serves them all). */
export function servesClientTls(config: NodeConfig): boolean {
  const secure = config.listenClientUrls.map(isHttps);
  if (secure.some((one) => one !== secure[0])) throw invalidArgument("--listen-client-urls: mix of http:// and https:// (one listener type per member)");
  return secure[0] ?? false;
}

/**
 * Whether members speak TLS to each other: all of them or none, so every
 * peer URL this member is given has one scheme (the transport speaks
 * either TLS or plain TCP; a member at the other kind of URL could not be
 * reached).
 */
export function servesPeerTls(config: NodeConfig): boolean {
  const secure = [...config.listenPeerUrls, ...config.initialAdvertisePeerUrls, ...config.initialCluster.values()].map(isHttps);
  if (secure.some((one) => one !== secure[0])) {
    throw invalidArgument(
      "--listen-peer-urls, --initial-advertise-peer-urls and --initial-cluster: mix of http:// and https:// (members speak TLS to each other or none does)",
    );
  }
  return secure[0] ?? false;
}

function validatePeerTls(config: NodeConfig): void {
  if (!servesPeerTls(config)) return;
  if (!config.peerAutoTls && (config.peerCertFile === "" || config.peerKeyFile === "")) {
    throw invalidArgument("https:// peer URLs need --peer-cert-file and --peer-key-file, or --peer-auto-tls");
  }
  if (config.peerClientCertAuth && config.peerTrustedCaFile === "") throw invalidArgument("--peer-client-cert-auth needs --peer-trusted-ca-file");
  if (config.peerCertAllowedCn !== "" && !config.peerClientCertAuth) throw invalidArgument("--peer-cert-allowed-cn needs --peer-client-cert-auth");
}

function validateTls(config: NodeConfig): void {
  if (config.listenMetricsUrls.some(isHttps)) throw invalidArgument("--listen-metrics-urls: only http:// is served");
  validatePeerTls(config);
  const tls = config;
  if (!servesClientTls(config)) return;
  if (!tls.autoTls && (tls.certFile === "" || tls.keyFile === "")) {
    throw invalidArgument("https:// client URLs need --cert-file and --key-file, or --auto-tls");
  }
  if (tls.clientCertAuth && tls.trustedCaFile === "") throw invalidArgument("--client-cert-auth needs --trusted-ca-file");
}

function validate(config: NodeConfig): void {
  validateTls(config);
  parseAutoCompaction(config.autoCompactionMode, config.autoCompactionRetention);
  if (config.heartbeatIntervalMs < TICK_MS) throw invalidArgument(`--heartbeat-interval must be at least ${TICK_MS} ms`);
  if (!Number.isInteger(config.bcryptCost) || config.bcryptCost < MIN_BCRYPT_COST || config.bcryptCost > MAX_BCRYPT_COST) {
    throw invalidArgument(`--bcrypt-cost must be an integer from ${MIN_BCRYPT_COST} to ${MAX_BCRYPT_COST}`);
  }
  if (!Number.isInteger(config.authTokenTtlSeconds) || config.authTokenTtlSeconds <= 0)
    throw invalidArgument("--auth-token-ttl must be a positive number of seconds");
  if (!Number.isSafeInteger(config.quotaBackendBytes)) throw invalidArgument("--quota-backend-bytes must be a whole number of bytes");
  if (!Number.isSafeInteger(config.walReserveBytes) || config.walReserveBytes < 0)
    throw invalidArgument("--wal-reserve-bytes must be a whole number of bytes, 0 or more");
  if (!(config.corruptCheckIntervalMs >= 0)) throw invalidArgument("--experimental-corrupt-check-time must not be negative");
  validateDns(config);
  if (config.electionTimeoutMs < 5 * config.heartbeatIntervalMs) {
    throw invalidArgument("--election-timeout must be at least five times --heartbeat-interval");
  }
  if (!config.initialCluster.has(config.name) && config.initialClusterState === "new") {
    throw invalidArgument(`--initial-cluster does not name this member (${config.name})`);
  }
}

function validateDns({ dnsAddr, dnsDomain, dnsTtlSeconds, dnsMaxStaleMs }: NodeConfig): void {
  if (dnsAddr !== "") parseDnsAddr(dnsAddr);
  const labels = dnsDomain.replace(/\.$/, "").split(".");
  if (labels.some((label) => !/^[A-Za-z0-9-]{1,63}$/.test(label))) {
    throw invalidArgument(`--dns-domain: expected a domain like raftkv. or service.example.com., got ${JSON.stringify(dnsDomain)}`);
  }
  if (!Number.isInteger(dnsTtlSeconds) || dnsTtlSeconds < 0) throw invalidArgument("--dns-ttl must be a whole number of seconds, 0 or more");
  if (!(dnsMaxStaleMs >= 0)) throw invalidArgument("--dns-max-stale must not be negative");
}
