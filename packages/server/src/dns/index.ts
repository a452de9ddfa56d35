/**
 * DNS for service discovery: each member answers A, AAAA and SRV queries
 * for the registry's services (`web.service.raftkv`), as Consul does. A thin
 * front end: the registry is read through recipes/services.ts, the same
 * path as GET /v1/services/<name>.
 */
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import { parseDnsAddr, type NodeConfig } from "../config.js";
import type { KvApi } from "../kv/api.js";
import { LeaderContact, type ClusterView } from "./leader-contact.js";
import { domainLabels } from "./names.js";
import { RegistryReader } from "./registry-reader.js";
import { DnsResponder } from "./responder.js";
import { DnsServer } from "./server.js";

export interface DnsDependencies {
  readonly api: KvApi;
  readonly cluster: ClusterView;
  /** Subscribes to leader changes, so that contact with a leader is tracked from the start. */
  readonly onLeaderChange: (listener: (leader: number) => void) => void;
  readonly metrics: Registry;
  readonly logger: Logger;
}

/** Resolvers wait a few seconds before they retry; a read through the leader gets less. */
const LEADER_READ_TIMEOUT_MS = 2_000;

/** Answers DNS at the configuration's --dns-addr. */
export async function startDns(config: NodeConfig, { api, cluster, onLeaderChange, metrics, logger }: DnsDependencies): Promise<DnsServer> {
  const contact = new LeaderContact(cluster);
  contact.observe(cluster.leader());
  onLeaderChange((leader) => contact.observe(leader));
  const reader = new RegistryReader(api, contact, { maxStaleMs: config.dnsMaxStaleMs, leaderReadTimeoutMs: LEADER_READ_TIMEOUT_MS });
  const responder = new DnsResponder({ domain: domainLabels(config.dnsDomain), ttl: config.dnsTtlSeconds }, reader);
  const server = await DnsServer.start({ listen: parseDnsAddr(config.dnsAddr), responder, metrics, logger });
  logger.info({ dns: server.address, domain: config.dnsDomain }, "answering DNS");
  return server;
}
