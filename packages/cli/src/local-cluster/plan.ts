/**
 * Where the members of a local development cluster live: names n1…n5 on
 * 127.0.0.1; client ports 2379, 22379, 32379, 42379, 52379 (the ports etcd's
 * own local Procfile gives its clients), each peer port one above its client
 * port; DNS on 8600 (Consul's port) for n1 and the ports after it for the
 * others; data in <data-dir>/<name>. Pure, so the layout is testable on its own.
 */
import { join } from "node:path";
import { InvalidArgumentError } from "commander";
import type { ServeFlagValues } from "../serve-flags.js";

export const LOCAL_HOST = "127.0.0.1";

/** Consul's DNS port: n1 answers there, n2 on the next port, and so on. */
const FIRST_DNS_PORT = 8600;

export const CLUSTER_SIZES = [3, 5] as const;
export type ClusterSize = (typeof CLUSTER_SIZES)[number];

export interface MemberPlan {
  readonly name: string;
  readonly clientPort: number;
  readonly peerPort: number;
  readonly dnsPort: number;
  readonly clientUrl: string;
  readonly peerUrl: string;
  /** host:port, as --dns-addr takes it. */
  readonly dnsAddr: string;
  readonly dataDir: string;
}

export interface ClusterPlan {
  readonly dataDir: string;
  readonly members: readonly MemberPlan[];
  /** etcd's name=peerUrl,… form, the same for every member. */
  readonly initialCluster: string;
}

/** Commander's parser for --nodes. */
export function parseClusterSize(value: string): ClusterSize {
  const size = CLUSTER_SIZES.find((candidate) => String(candidate) === value);
  if (size === undefined) throw new InvalidArgumentError(`expected ${CLUSTER_SIZES.join(" or ")}`);
  return size;
}

export function planLocalCluster(size: ClusterSize, dataDir: string): ClusterPlan {
  const members = Array.from({ length: size }, (_, index) => memberPlan(index + 1, dataDir));
  return { dataDir, members, initialCluster: initialClusterOf(members) };
}

/** etcd's --initial-cluster for these members. */
export function initialClusterOf(members: readonly MemberPlan[]): string {
  return members.map((member) => `${member.name}=${member.peerUrl}`).join(",");
}

function memberPlan(ordinal: number, dataDir: string): MemberPlan {
  const name = `n${ordinal}`;
  // n1 keeps etcd's well-known 2379; the others sit 10,000 apart above it.
  const clientPort = ordinal === 1 ? 2379 : ordinal * 10_000 + 2379;
  const peerPort = clientPort + 1;
  const dnsPort = FIRST_DNS_PORT + ordinal - 1;
  return {
    name,
    clientPort,
    peerPort,
    dnsPort,
    clientUrl: `http://${LOCAL_HOST}:${clientPort}`,
    peerUrl: `http://${LOCAL_HOST}:${peerPort}`,
    dnsAddr: `${LOCAL_HOST}:${dnsPort}`,
    dataDir: join(dataDir, name),
  };
}

/** The `serve` flags that place one member in the plan. */
export function memberServeFlags(plan: ClusterPlan, member: MemberPlan): ServeFlagValues {
  return {
    name: member.name,
    "data-dir": member.dataDir,
    "listen-client-urls": member.clientUrl,
    "advertise-client-urls": member.clientUrl,
    "listen-peer-urls": member.peerUrl,
    "initial-advertise-peer-urls": member.peerUrl,
    "dns-addr": member.dnsAddr,
    "initial-cluster": plan.initialCluster,
    // A member whose data dir already holds state restarts from it and ignores this.
    "initial-cluster-state": "new",
  };
}

/** What `cluster up` prints before the nodes' logs: where they are and how to try them. */
/** `curl` is the command the banner shows, with the CA to trust when the cluster serves TLS. */
export function bannerFor(plan: ClusterPlan, restarting: boolean, curl = "curl"): string {
  const [writeTo, readFrom = writeTo] = plan.members;
  if (!writeTo || !readFrom) throw new Error("a cluster plan has members");
  const what = restarting ? "restarting the" : "starting a new";
  const width = Math.max(...plan.members.map((member) => member.peerUrl.length));
  const members = plan.members.map(
    ({ name, clientUrl, peerUrl, dnsAddr, dataDir }) =>
      `  ${name}  client ${clientUrl.padEnd(width)}  peer ${peerUrl.padEnd(width)}  dns ${dnsAddr}  data ${dataDir}`,
  );
  return [
    `raftkv: ${what} ${plan.members.length}-node cluster on ${LOCAL_HOST}, data in ${plan.dataDir}`,
    ...members,
    `Client endpoints: ${plan.members.map((member) => member.clientUrl).join(",")}`,
    `Dashboard: ${writeTo.clientUrl}/ui/ (every node serves one)`,
    "",
    "Write on one node, read on another:",
    `  ${curl} -X PUT ${writeTo.clientUrl}/v1/kv/foo -d bar`,
    `  ${curl} ${readFrom.clientUrl}/v1/kv/foo`,
    "The etcd v3 JSON API (keys and values in base64: Zm9v is foo, YmFy is bar):",
    `  ${curl} -s ${writeTo.clientUrl}/v3/kv/put -X POST -d '{"key":"Zm9v","value":"YmFy"}'`,
    `  ${curl} -s ${readFrom.clientUrl}/v3/kv/range -X POST -d '{"key":"Zm9v"}'`,
    `Health: ${curl} ${writeTo.clientUrl}/health`,
    "Services by DNS (register one first):",
    `  ${curl} -X POST ${writeTo.clientUrl}/v1/services/web -d '{"address":"127.0.0.1","port":8080,"ttl":60}'`,
    `  dig @${LOCAL_HOST} -p ${writeTo.dnsPort} web.service.raftkv SRV`,
    "",
    "Ctrl-C stops every node.",
    "",
  ].join("\n");
}
