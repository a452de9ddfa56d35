/**
 * `raftkv serve` flags and RAFTKV_* environment variables, through commander,
 * to the NodeConfig the server starts from.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { Command } from "commander";
import type { NodeConfig } from "@raftkv/server";
import {
  SERVE_FLAGS,
  addServeFlags,
  envVarOf,
  nodeConfigFrom,
  serveArgv,
  serveFlagValues,
  type Environment,
  type ServeFlagValues,
} from "../src/serve-flags.js";

function flagsFrom(args: readonly string[]): ServeFlagValues {
  const command = addServeFlags(new Command()).exitOverride();
  command.parse(args, { from: "user" });
  return serveFlagValues(command);
}

function configFrom(args: readonly string[], env: Environment = {}): Promise<NodeConfig> {
  return nodeConfigFrom(flagsFrom(args), env);
}

/** The fields of `config` that `expected` names, to compare with it. */
function pick(config: NodeConfig, expected: Partial<NodeConfig>): Partial<NodeConfig> {
  return Object.fromEntries(Object.keys(expected).map((key) => [key, config[key as keyof NodeConfig]]));
}

const THREE_MEMBERS = "n1=http://127.0.0.1:2380,n2=http://127.0.0.1:22380,n3=http://127.0.0.1:32380";
const threeMembers = new Map([
  ["n1", "http://127.0.0.1:2380"],
  ["n2", "http://127.0.0.1:22380"],
  ["n3", "http://127.0.0.1:32380"],
]);

const cases: { name: string; args: string[]; env?: Environment; expected: Partial<NodeConfig> }[] = [
  {
    name: "no flags: the server's defaults",
    args: [],
    expected: {
      name: "default",
      dataDir: "default.raftkv",
      listenClientUrls: ["http://127.0.0.1:2379"],
      initialCluster: new Map([["default", "http://127.0.0.1:2380"]]),
      initialClusterState: "new",
      heartbeatIntervalMs: 100,
      electionTimeoutMs: 1000,
      logLevel: "info",
    },
  },
  {
    name: "every flag",
    args: [
      "--name",
      "n2",
      "--data-dir",
      "/var/lib/raftkv/n2",
      "--listen-client-urls",
      "http://0.0.0.0:22379",
      "--advertise-client-urls",
      "http://10.0.0.2:22379",
      "--listen-peer-urls",
      "http://0.0.0.0:22380",
      "--initial-advertise-peer-urls",
      "http://127.0.0.1:22380",
      "--initial-cluster",
      THREE_MEMBERS,
      "--initial-cluster-state",
      "existing",
      "--initial-cluster-token",
      "staging",
      "--heartbeat-interval",
      "50",
      "--election-timeout",
      "500",
      "--snapshot-count",
      "2000",
      "--log-level",
      "debug",
    ],
    expected: {
      name: "n2",
      dataDir: "/var/lib/raftkv/n2",
      listenClientUrls: ["http://0.0.0.0:22379"],
      advertiseClientUrls: ["http://10.0.0.2:22379"],
      listenPeerUrls: ["http://0.0.0.0:22380"],
      initialAdvertisePeerUrls: ["http://127.0.0.1:22380"],
      initialCluster: threeMembers,
      initialClusterState: "existing",
      initialClusterToken: "staging",
      heartbeatIntervalMs: 50,
      electionTimeoutMs: 500,
      snapshotCount: 2000,
      logLevel: "debug",
    },
  },
  {
    name: "comma-separated URL lists, spaces and a trailing comma allowed",
    args: ["--listen-client-urls", "http://127.0.0.1:2379, http://10.0.0.1:2379,"],
    expected: { listenClientUrls: ["http://127.0.0.1:2379", "http://10.0.0.1:2379"] },
  },
  {
    name: "--flag=value",
    args: ["--name=n3", `--initial-cluster=${THREE_MEMBERS}`],
    expected: { name: "n3", initialCluster: threeMembers },
  },
  {
    name: "environment variables alone",
    args: [],
    env: {
      RAFTKV_NAME: "n1",
      RAFTKV_INITIAL_CLUSTER: THREE_MEMBERS,
      RAFTKV_INITIAL_CLUSTER_STATE: "existing",
      RAFTKV_HEARTBEAT_INTERVAL: "20",
      RAFTKV_ELECTION_TIMEOUT: "200",
    },
    expected: {
      name: "n1",
      dataDir: "n1.raftkv",
      initialCluster: threeMembers,
      initialClusterState: "existing",
      heartbeatIntervalMs: 20,
      electionTimeoutMs: 200,
    },
  },
  {
    name: "a flag wins over its environment variable",
    args: ["--name", "n1", "--log-level", "warn"],
    env: { RAFTKV_NAME: "n9", RAFTKV_LOG_LEVEL: "error", RAFTKV_SNAPSHOT_COUNT: "7" },
    expected: { name: "n1", logLevel: "warn", snapshotCount: 7 },
  },
  {
    name: "DNS, by flags and by the environment",
    args: ["--dns-addr", "[::1]:8600", "--dns-ttl", "5s"],
    env: { RAFTKV_DNS_DOMAIN: "sd.example.com.", RAFTKV_DNS_MAX_STALE: "1500ms" },
    expected: { dnsAddr: "[::1]:8600", dnsDomain: "sd.example.com.", dnsTtlSeconds: 5, dnsMaxStaleMs: 1500 },
  },
  {
    name: "DNS is off unless an address is given",
    args: [],
    expected: { dnsAddr: "", dnsDomain: "raftkv.", dnsTtlSeconds: 0, dnsMaxStaleMs: 10_000 },
  },
  {
    name: "peer TLS, by flags and by the environment",
    args: ["--listen-peer-urls", "https://127.0.0.1:2380", "--initial-cluster", "default=https://127.0.0.1:2380", "--peer-cert-file", "m.crt"],
    env: {
      RAFTKV_PEER_KEY_FILE: "m.key",
      RAFTKV_PEER_TRUSTED_CA_FILE: "ca.crt",
      RAFTKV_PEER_CLIENT_CERT_AUTH: "true",
      RAFTKV_PEER_CERT_ALLOWED_CN: "member",
      RAFTKV_PEER_AUTO_TLS: "false",
    },
    expected: {
      peerCertFile: "m.crt",
      peerKeyFile: "m.key",
      peerTrustedCaFile: "ca.crt",
      peerClientCertAuth: true,
      peerAutoTls: false,
      peerCertAllowedCn: "member",
    },
  },
  {
    name: "an empty environment variable counts as unset",
    args: [],
    env: { RAFTKV_NAME: "", RAFTKV_LOG_LEVEL: "" },
    expected: { name: "default", logLevel: "info" },
  },
];

for (const { name, args, env, expected } of cases) {
  test(`serve flags: ${name}`, async () => {
    assert.deepEqual(pick(await configFrom(args, env), expected), expected);
  });
}

const mistakes: { name: string; args: string[]; env?: Environment; message: string | RegExp }[] = [
  {
    name: "a number that is not one",
    args: ["--heartbeat-interval", "fast"],
    message: '--heartbeat-interval: expected a positive whole number, got "fast"',
  },
  {
    name: "a fraction",
    args: ["--snapshot-count", "1.5"],
    message: '--snapshot-count: expected a positive whole number, got "1.5"',
  },
  {
    name: "zero",
    args: ["--election-timeout", "0"],
    message: '--election-timeout: expected a positive whole number, got "0"',
  },
  {
    name: "a bad number from the environment names the variable",
    args: [],
    env: { RAFTKV_SNAPSHOT_COUNT: "-1" },
    message: 'RAFTKV_SNAPSHOT_COUNT: expected a positive whole number, got "-1"',
  },
  {
    name: "a URL that is not one",
    args: ["--listen-peer-urls", "localhost"],
    message: '--listen-peer-urls: invalid URL "localhost"',
  },
  {
    name: "a URL without a port",
    args: ["--listen-client-urls", "http://127.0.0.1"],
    message: "--listen-client-urls: URL http://127.0.0.1 has no port",
  },
  {
    name: "a DNS address without a port",
    args: ["--dns-addr", "127.0.0.1"],
    message: '--dns-addr: expected host:port, got "127.0.0.1"',
  },
  {
    name: "a DNS TTL that is not whole seconds",
    args: ["--dns-ttl", "1500ms"],
    message: "--dns-ttl must be a whole number of seconds, 0 or more",
  },
  {
    name: "a DNS domain with an empty label",
    args: ["--dns-domain", "a..b"],
    message: /--dns-domain: expected a domain/,
  },
  {
    name: "an empty URL list",
    args: ["--advertise-client-urls", ","],
    message: "--advertise-client-urls: expected at least one URL",
  },
  {
    name: "an --initial-cluster pair without a name, named once",
    args: ["--initial-cluster", "http://127.0.0.1:2380"],
    message: '--initial-cluster: expected name=url, got "http://127.0.0.1:2380"',
  },
  {
    name: "an unknown cluster state",
    args: ["--initial-cluster-state", "old"],
    message: '--initial-cluster-state: expected new or existing, got "old"',
  },
  {
    name: "an unknown log level",
    args: ["--log-level", "loud"],
    message: /^--log-level: expected one of trace, debug, .*, got "loud"$/,
  },
  { name: "an empty name", args: ["--name", " "], message: "--name: must not be empty" },
  {
    name: "timings the server rejects",
    args: ["--heartbeat-interval", "100"],
    env: { RAFTKV_ELECTION_TIMEOUT: "300" },
    message: "--election-timeout must be at least five times --heartbeat-interval",
  },
  {
    name: "https:// peer URLs without a peer certificate",
    args: ["--listen-peer-urls", "https://127.0.0.1:2380", "--initial-cluster", "default=https://127.0.0.1:2380"],
    message: "https:// peer URLs need --peer-cert-file and --peer-key-file, or --peer-auto-tls",
  },
  {
    name: "peer URLs of both schemes",
    args: ["--listen-peer-urls", "https://127.0.0.1:2380", "--initial-cluster", "default=https://127.0.0.1:2380,n2=http://127.0.0.1:22380"],
    env: { RAFTKV_PEER_AUTO_TLS: "true" },
    message: /^--listen-peer-urls, --initial-advertise-peer-urls and --initial-cluster: mix of http:\/\/ and https:\/\//,
  },
  {
    name: "peer certificate authentication without a CA",
    args: ["--listen-peer-urls", "https://127.0.0.1:2380", "--peer-auto-tls", "true", "--peer-client-cert-auth", "true"],
    message: "--peer-client-cert-auth needs --peer-trusted-ca-file",
  },
  {
    name: "an allowed peer CN without peer certificate authentication",
    args: ["--listen-peer-urls", "https://127.0.0.1:2380", "--peer-auto-tls", "true", "--peer-cert-allowed-cn", "member"],
    message: "--peer-cert-allowed-cn needs --peer-client-cert-auth",
  },
  {
    name: "a cluster that leaves this member out",
    args: ["--name", "n4", "--initial-cluster", THREE_MEMBERS],
    message: "--initial-cluster does not name this member (n4)",
  },
];

for (const { name, args, env, message } of mistakes) {
  test(`serve flags refuse ${name}`, async () => {
    await assert.rejects(configFrom(args, env), { name: "UsageError", message });
  });
}

test("every serve flag has the etcd-style environment variable", () => {
  assert.equal(envVarOf("initial-cluster-state"), "RAFTKV_INITIAL_CLUSTER_STATE");
  for (const { flag } of SERVE_FLAGS) {
    assert.match(envVarOf(flag), /^RAFTKV_[A-Z_]+$/);
    assert.equal(flagsFrom([`--${flag}`, "x"])[flag], "x", `--${flag} reads back`);
  }
});

test("the defaults --help shows are the server's", async () => {
  const defaults = await configFrom([]);
  for (const row of SERVE_FLAGS) {
    if ("defaultValue" in row) {
      assert.deepEqual(await configFrom([`--${row.flag}`, row.defaultValue]), defaults, `--${row.flag}`);
    }
  }
});

test("serveArgv gives back the flags it was made from", () => {
  const flags: ServeFlagValues = { name: "n1", "initial-cluster": THREE_MEMBERS, "heartbeat-interval": "50" };
  assert.deepEqual(flagsFrom(serveArgv(flags)), flags);
});
