/**
 * The flags of `raftkv serve`: etcd's names and meanings, each also read from
 * an environment variable named the etcd way (--initial-cluster-state is
 * RAFTKV_INITIAL_CLUSTER_STATE). A flag on the command line wins over the
 * environment. `cluster up` reuses this table to pass flags on to its nodes.
 *
 * Values stay strings until nodeConfigFrom() turns them into a NodeConfig, so
 * flags and environment variables go through the same parsing and errors.
 */
import { Option, type Command } from "commander";
import type { NodeConfig, UnsafeBehaviour } from "@raftkv/server";
import { UsageError, messageOf } from "./errors.js";

/** The server's configuration functions, loaded only once a node configuration is needed. */
type ServerConfigApi = Pick<typeof import("@raftkv/server"), "defaultConfig" | "parseInitialCluster" | "parseUrl" | "parseDurationMs">;

type ServeFlag = {
  /** The flag without its dashes; also names the environment variable. */
  readonly flag: string;
  readonly placeholder: string;
  readonly about: string;
  /**
   * "cluster": every member of a cluster takes the same value, so `cluster up`
   * accepts the flag and passes it on; "member": `cluster up` plans it per node.
   */
  readonly scope: "member" | "cluster";
  readonly toConfig: (value: string, server: ServerConfigApi) => Partial<NodeConfig>;
} & (
  | {
      /** The server's default, as the flag would give it (a test holds the two together). */
      readonly defaultValue: string;
    }
  | {
      /** The server's default, in words, where it depends on other flags. */
      readonly defaultNote: string;
    }
);

/** Spelled out here rather than imported, so that help does not load the server (see ServerConfigApi). */
const UNSAFE_BEHAVIOUR_NAMES = ["local-reads", "ack-before-fsync", "commit-any-term"] as const satisfies readonly UnsafeBehaviour[];

/** The levels the server's logger (pino) knows. */
const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "fatal", "silent"];

export const SERVE_FLAGS = [
  {
    flag: "name",
    placeholder: "<name>",
    about: "human-readable name of this member",
    scope: "member",
    toConfig: (value) => ({ name: nonEmpty(value) }),
    defaultValue: "default",
  },
  {
    flag: "data-dir",
    placeholder: "<dir>",
    about: "directory for this member's WAL and snapshots",
    scope: "member",
    toConfig: (value) => ({ dataDir: nonEmpty(value) }),
    defaultNote: "<name>.raftkv",
  },
  {
    flag: "listen-client-urls",
    placeholder: "<urls>",
    about: "comma-separated URLs to serve clients on",
    scope: "member",
    toConfig: (value, server) => ({ listenClientUrls: urlList(value, server) }),
    defaultValue: "http://127.0.0.1:2379",
  },
  {
    flag: "advertise-client-urls",
    placeholder: "<urls>",
    about: "comma-separated client URLs to tell the rest of the cluster about",
    scope: "member",
    toConfig: (value, server) => ({ advertiseClientUrls: urlList(value, server) }),
    defaultNote: "--listen-client-urls",
  },
  {
    flag: "listen-peer-urls",
    placeholder: "<urls>",
    about: "comma-separated URLs to serve Raft peers on",
    scope: "member",
    toConfig: (value, server) => ({ listenPeerUrls: urlList(value, server) }),
    defaultValue: "http://127.0.0.1:2380",
  },
  {
    flag: "initial-advertise-peer-urls",
    placeholder: "<urls>",
    about: "comma-separated peer URLs to tell the rest of the cluster about",
    scope: "member",
    toConfig: (value, server) => ({ initialAdvertisePeerUrls: urlList(value, server) }),
    defaultNote: "--listen-peer-urls",
  },
  {
    flag: "initial-cluster",
    placeholder: "<name=url,...>",
    about: "the founding members and their peer URLs",
    scope: "member",
    toConfig: (value, server) => ({ initialCluster: server.parseInitialCluster(value) }),
    defaultNote: "this member alone",
  },
  {
    flag: "initial-cluster-state",
    placeholder: "<new|existing>",
    about: "'new' to found a cluster, 'existing' to join one (ignored once the data dir holds state)",
    scope: "member",
    toConfig: (value) => ({ initialClusterState: clusterState(value) }),
    defaultValue: "new",
  },
  {
    flag: "initial-cluster-token",
    placeholder: "<token>",
    about: "a name unique to this cluster, so separate clusters never mistake each other's members",
    scope: "cluster",
    toConfig: (value) => ({ initialClusterToken: nonEmpty(value) }),
    defaultValue: "raftkv-cluster",
  },
  {
    flag: "heartbeat-interval",
    placeholder: "<ms>",
    about: "milliseconds between a leader's heartbeats",
    scope: "cluster",
    toConfig: (value) => ({ heartbeatIntervalMs: positiveInteger(value) }),
    defaultValue: "100",
  },
  {
    flag: "election-timeout",
    placeholder: "<ms>",
    about: "milliseconds without a leader before a follower campaigns",
    scope: "cluster",
    toConfig: (value) => ({ electionTimeoutMs: positiveInteger(value) }),
    defaultValue: "1000",
  },
  {
    flag: "snapshot-count",
    placeholder: "<count>",
    about: "applied entries between snapshots",
    scope: "cluster",
    toConfig: (value) => ({ snapshotCount: positiveInteger(value) }),
    defaultValue: "100000",
  },
  {
    flag: "snapshot-catchup-entries",
    placeholder: "<n>",
    about: "entries kept below a snapshot for followers slightly behind",
    scope: "cluster",
    toConfig: (value) => ({ snapshotCatchUpEntries: positiveInteger(value) }),
    defaultValue: "5000",
  },
  {
    flag: "log-level",
    placeholder: "<level>",
    about: `one of ${LOG_LEVELS.join(", ")}`,
    scope: "cluster",
    toConfig: (value) => ({ logLevel: oneOf(LOG_LEVELS, value) }),
    defaultValue: "info",
  },
  {
    flag: "auto-compaction-mode",
    placeholder: "<mode>",
    about: "periodic (keep a duration of history) or revision (keep a count of revisions)",
    scope: "cluster",
    toConfig: (value) => ({ autoCompactionMode: oneOf(["periodic", "revision"], value) }),
    defaultValue: "periodic",
  },
  {
    flag: "auto-compaction-retention",
    placeholder: "<retention>",
    about: "history to keep: a duration like 30m or 1h (periodic) or a revision count (revision); 0 is off",
    scope: "cluster",
    toConfig: (value) => ({ autoCompactionRetention: nonEmpty(value) }),
    defaultValue: "0",
  },
  {
    flag: "strict-reconfig-check",
    placeholder: "<true|false>",
    about: "refuse membership changes that would leave fewer started voters than a quorum",
    scope: "cluster",
    toConfig: (value) => ({ strictReconfigCheck: trueOrFalse(value) }),
    defaultValue: "true",
  },
  {
    flag: "experimental-initial-corrupt-check",
    placeholder: "<true|false>",
    about: "compare the store's hash with the peers' before serving; a mismatch raises a CORRUPT alarm",
    scope: "cluster",
    toConfig: (value) => ({ initialCorruptCheck: trueOrFalse(value) }),
    defaultValue: "false",
  },
  {
    flag: "experimental-corrupt-check-time",
    placeholder: "<duration>",
    about: "how often the leader compares the members' hashes, like 5m; 0s is never",
    scope: "cluster",
    toConfig: (value, server) => ({ corruptCheckIntervalMs: duration(value, server) }),
    defaultValue: "0s",
  },
  {
    flag: "dns-addr",
    placeholder: "<host:port>",
    about: "answer DNS for the service registry on this address, UDP and TCP (web.service.raftkv. and the like)",
    scope: "member",
    toConfig: (value) => ({ dnsAddr: value.trim() }),
    defaultNote: "off",
  },
  {
    flag: "dns-domain",
    placeholder: "<domain>",
    about: "the domain DNS answers for; names outside it are REFUSED",
    scope: "cluster",
    toConfig: (value) => ({ dnsDomain: nonEmpty(value) }),
    defaultValue: "raftkv.",
  },
  {
    flag: "dns-ttl",
    placeholder: "<duration>",
    about: "the TTL of DNS answers, in whole seconds, like 5s",
    scope: "cluster",
    toConfig: (value, server) => ({ dnsTtlSeconds: duration(value, server) / 1000 }),
    defaultValue: "0s",
  },
  {
    flag: "dns-max-stale",
    placeholder: "<duration>",
    about: "how long after last hearing from a leader DNS still answers from this member's state; past it, through the leader, or SERVFAIL without one",
    scope: "cluster",
    toConfig: (value, server) => ({ dnsMaxStaleMs: duration(value, server) }),
    defaultValue: "10s",
  },
  {
    flag: "auth-token",
    placeholder: "<spec>",
    about: "simple, or jwt,pub-key=<file>,priv-key=<file>,sign-method=<RS256|PS256|ES256|EdDSA…>[,ttl=5m]",
    scope: "cluster",
    toConfig: (value) => ({ authToken: nonEmpty(value) }),
    defaultValue: "simple",
  },
  {
    flag: "auth-token-ttl",
    placeholder: "<seconds>",
    about: "how long a simple token lives after its last use",
    scope: "cluster",
    toConfig: (value) => ({ authTokenTtlSeconds: Number(value) }),
    defaultValue: "300",
  },
  {
    flag: "bcrypt-cost",
    placeholder: "<cost>",
    about: "cost of the password hash (scrypt with N = 2^(cost+4)), 4 to 16",
    scope: "cluster",
    toConfig: (value) => ({ bcryptCost: Number(value) }),
    defaultValue: "10",
  },
  {
    flag: "listen-metrics-urls",
    placeholder: "<urls>",
    about: "extra plain-HTTP listeners serving only /metrics, /health, /readyz, /livez and /version",
    scope: "member",
    toConfig: (value, server) => ({ listenMetricsUrls: value.trim() === "" ? [] : urlList(value, server) }),
    defaultValue: "",
  },
  {
    flag: "cert-file",
    placeholder: "<file>",
    about: "the client listener's TLS certificate (PEM), for https:// client URLs; re-read when it changes",
    scope: "member",
    toConfig: (value) => ({ certFile: value }),
    defaultValue: "",
  },
  {
    flag: "key-file",
    placeholder: "<file>",
    about: "the key of --cert-file (PEM)",
    scope: "member",
    toConfig: (value) => ({ keyFile: value }),
    defaultValue: "",
  },
  {
    flag: "trusted-ca-file",
    placeholder: "<file>",
    about: "the CA that signs client certificates (PEM), for --client-cert-auth",
    scope: "cluster",
    toConfig: (value) => ({ trustedCaFile: value }),
    defaultValue: "",
  },
  {
    flag: "client-cert-auth",
    placeholder: "<true|false>",
    about: "refuse clients without a certificate signed by --trusted-ca-file",
    scope: "cluster",
    toConfig: (value) => ({ clientCertAuth: trueOrFalse(value) }),
    defaultValue: "false",
  },
  {
    flag: "auto-tls",
    placeholder: "<true|false>",
    about: "serve https:// client URLs with a self-signed certificate made at start-up (for trying TLS out)",
    scope: "cluster",
    toConfig: (value) => ({ autoTls: trueOrFalse(value) }),
    defaultValue: "false",
  },
  {
    flag: "peer-cert-file",
    placeholder: "<file>",
    about: "the certificate this member shows other members (PEM), for https:// peer URLs; re-read when it changes",
    scope: "member",
    toConfig: (value) => ({ peerCertFile: value }),
    defaultValue: "",
  },
  {
    flag: "peer-key-file",
    placeholder: "<file>",
    about: "the key of --peer-cert-file (PEM)",
    scope: "member",
    toConfig: (value) => ({ peerKeyFile: value }),
    defaultValue: "",
  },
  {
    flag: "peer-trusted-ca-file",
    placeholder: "<file>",
    about: "the CA that signs members' certificates (PEM), for --peer-client-cert-auth",
    scope: "cluster",
    toConfig: (value) => ({ peerTrustedCaFile: value }),
    defaultValue: "",
  },
  {
    flag: "peer-client-cert-auth",
    placeholder: "<true|false>",
    about: "refuse members without a certificate signed by --peer-trusted-ca-file",
    scope: "cluster",
    toConfig: (value) => ({ peerClientCertAuth: trueOrFalse(value) }),
    defaultValue: "false",
  },
  {
    flag: "peer-auto-tls",
    placeholder: "<true|false>",
    about: "speak TLS to members with a self-signed certificate made at start-up (encrypts, proves nothing)",
    scope: "cluster",
    toConfig: (value) => ({ peerAutoTls: trueOrFalse(value) }),
    defaultValue: "false",
  },
  {
    flag: "peer-cert-allowed-cn",
    placeholder: "<name>",
    about: "the only CommonName a member's certificate may carry (with --peer-client-cert-auth)",
    scope: "cluster",
    toConfig: (value) => ({ peerCertAllowedCn: value }),
    defaultValue: "",
  },
  {
    flag: "quota-backend-bytes",
    placeholder: "<bytes>",
    about: "raise a NOSPACE alarm, and refuse writes that grow the store, once the store is this large; 0 is the default (2 GiB), negative is no quota",
    scope: "cluster",
    toConfig: (value) => ({ quotaBackendBytes: wholeNumber(value) }),
    defaultValue: "0",
  },
  {
    flag: "wal-reserve-bytes",
    placeholder: "<bytes>",
    about: "raise a NOSPACE alarm once the data directory's filesystem has less free space than this, before it is full; 0 is off",
    scope: "cluster",
    toConfig: (value) => ({ walReserveBytes: wholeNumber(value) }),
    defaultValue: String(16 * 1024 * 1024),
  },
  {
    flag: "storage-failure-exit",
    placeholder: "<true|false>",
    about:
      "once a write or sync of the WAL, the store or a snapshot fails, exit with status 74 after 1 s so a supervisor restarts the member; false keeps it up, unhealthy, for inspection",
    scope: "cluster",
    toConfig: (value) => ({ storageFailureExit: trueOrFalse(value) }),
    defaultValue: "true",
  },
  {
    flag: "unsafe-bugs",
    placeholder: "<behaviours>",
    about: `TESTING ONLY: deliberate bugs for the fault-injection harness to find (${UNSAFE_BEHAVIOUR_NAMES.join(", ")})`,
    scope: "cluster",
    toConfig: (value) => ({ unsafe: unsafeBehaviours(value) }),
    defaultValue: "",
  },
] as const satisfies readonly ServeFlag[];

export type ServeFlagName = (typeof SERVE_FLAGS)[number]["flag"];
type ServeFlagRow = ServeFlag & { readonly flag: ServeFlagName };

/** Serve flags as given, by flag name; a missing flag falls back to the environment. */
export type ServeFlagValues = Partial<Record<ServeFlagName, string>>;

export type Environment = Readonly<Record<string, string | undefined>>;

export function envVarOf(flag: ServeFlagName): string {
  return `RAFTKV_${flag.toUpperCase().replaceAll("-", "_")}`;
}

/** Declares the serve flags of one scope (or all of them) on a command. */
export function addServeFlags(command: Command, scope?: ServeFlag["scope"]): Command {
  for (const row of flagsOf(scope)) command.addOption(new Option(`--${row.flag} ${row.placeholder}`, describe(row)));
  return command;
}

/** Reads back the serve flags declared by addServeFlags(). */
export function serveFlagValues(command: Command, scope?: ServeFlag["scope"]): ServeFlagValues {
  const values: ServeFlagValues = {};
  for (const row of flagsOf(scope)) {
    const value: unknown = command.getOptionValue(attributeOf(row.flag));
    if (typeof value === "string") values[row.flag] = value;
  }
  return values;
}

/** The command line that gives a `serve` process these flags. */
export function serveArgv(flags: ServeFlagValues): string[] {
  return SERVE_FLAGS.flatMap((row) => {
    const value = flags[row.flag];
    return value === undefined ? [] : [`--${row.flag}`, value];
  });
}

/**
 * The node configuration these flags and this environment describe, with the
 * server's defaults for the rest. Rejects with a UsageError naming the flag or
 * variable at fault.
 */
export async function nodeConfigFrom(flags: ServeFlagValues, env: Environment): Promise<NodeConfig> {
  // Imported here rather than at the top: loading the server and its
  // dependencies takes about half a second, which --help and the commands
  // that never run a node should not pay.
  const server = await import("@raftkv/server");
  let overrides: Partial<NodeConfig> = {};
  for (const row of SERVE_FLAGS) {
    const given = givenValue(row.flag, flags, env);
    if (given) overrides = { ...overrides, ...parseGiven(row, given, server) };
  }
  try {
    return server.defaultConfig(overrides);
  } catch (error) {
    throw new UsageError(messageOf(error));
  }
}

interface GivenValue {
  readonly value: string;
  /** Where the value came from, as the user would write it: --flag or RAFTKV_FLAG. */
  readonly source: string;
}

function givenValue(flag: ServeFlagName, flags: ServeFlagValues, env: Environment): GivenValue | undefined {
  const fromFlag = flags[flag];
  if (fromFlag !== undefined) return { value: fromFlag, source: `--${flag}` };
  const fromEnv = env[envVarOf(flag)];
  // `RAFTKV_NAME= raftkv serve` is the shell's way to unset a variable for one command.
  if (fromEnv !== undefined && fromEnv !== "") return { value: fromEnv, source: envVarOf(flag) };
  return undefined;
}

function parseGiven(row: ServeFlag, { value, source }: GivenValue, server: ServerConfigApi): Partial<NodeConfig> {
  try {
    return row.toConfig(value, server);
  } catch (error) {
    const message = messageOf(error);
    // The server's parsers sometimes name the flag already; say it once.
    throw new UsageError(message.startsWith(source) ? message : `${source}: ${message}`);
  }
}

function flagsOf(scope: ServeFlag["scope"] | undefined): readonly ServeFlagRow[] {
  return scope === undefined ? SERVE_FLAGS : SERVE_FLAGS.filter((row) => row.scope === scope);
}

function describe(row: ServeFlagRow): string {
  const shownDefault = "defaultValue" in row ? row.defaultValue : row.defaultNote;
  return `${row.about} (default: ${shownDefault}; env: ${envVarOf(row.flag)})`;
}

/** Where commander keeps a flag's value: --listen-client-urls becomes listenClientUrls. */
function attributeOf(flag: string): string {
  return flag.replace(/-([a-z])/g, (_, letter: string) => letter.toUpperCase());
}

function nonEmpty(value: string): string {
  if (value.trim() === "") throw new Error("must not be empty");
  return value;
}

function urlList(value: string, server: ServerConfigApi): string[] {
  const urls = value
    .split(",")
    .map((url) => url.trim())
    .filter(Boolean);
  if (urls.length === 0) throw new Error("expected at least one URL");
  for (const url of urls) server.parseUrl(url);
  return urls;
}

function positiveInteger(value: string): number {
  const number = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(number) || number <= 0) {
    throw new Error(`expected a positive whole number, got ${JSON.stringify(value)}`);
  }
  return number;
}

/** A whole number, negative allowed (a negative quota is etcd's way to turn it off). */
function wholeNumber(value: string): number {
  const number = Number(value);
  if (!/^-?\d+$/.test(value.trim()) || !Number.isSafeInteger(number)) throw new Error(`expected a whole number, got ${JSON.stringify(value)}`);
  return number;
}

function clusterState(value: string): NodeConfig["initialClusterState"] {
  if (value === "new" || value === "existing") return value;
  throw new Error(`expected new or existing, got ${JSON.stringify(value)}`);
}

function trueOrFalse(value: string): boolean {
  return oneOf(["true", "false"], value) === "true";
}

function duration(value: string, server: ServerConfigApi): number {
  const ms = server.parseDurationMs(value, "s");
  if (ms === undefined) throw new Error(`expected a duration like 500ms, 5s or 5m, got ${JSON.stringify(value)}`);
  return ms;
}

function unsafeBehaviours(value: string): UnsafeBehaviour[] {
  const names = value
    .split(",")
    .map((name) => name.trim())
    .filter(Boolean);
  return names.map((name) => oneOf(UNSAFE_BEHAVIOUR_NAMES, name) as UnsafeBehaviour);
}

function oneOf(allowed: readonly string[], value: string): string {
  if (allowed.includes(value)) return value;
  throw new Error(`expected one of ${allowed.join(", ")}, got ${JSON.stringify(value)}`);
}
