/**
 * The records that answer a question, from a service's instances: A and
 * AAAA records of the instances' IP addresses, SRV records of those that
 * registered a port (with the targets' addresses in the additional
 * section), and an SOA record in the authority section of a negative
 * answer, as RFC 2308 asks, so that resolvers cache it for the TTL.
 */
import { isIPv4, isIPv6 } from "node:net";
import type { Answer, RecordType } from "dns-packet";
import type { Instance } from "../recipes/services.js";
import { addressName, isPlainHostName } from "./names.js";

export type Rcode = "NOERROR" | "FORMERR" | "SERVFAIL" | "NXDOMAIN" | "NOTIMP" | "REFUSED";

export interface RecordSet {
  readonly rcode: Rcode;
  readonly answers: readonly Answer[];
  readonly additionals: readonly Answer[];
  readonly authorities: readonly Answer[];
}

export interface ZoneSettings {
  /** The domain's labels, as domainLabels() gives them. */
  readonly domain: readonly string[];
  /** The TTL of every record, in seconds. */
  readonly ttl: number;
}

export interface Question {
  readonly name: string;
  readonly type: RecordType;
}

/** A service's instances that match the lookup's tag, if it names one. */
export function matchingInstances(instances: readonly Instance[], tag: string | undefined): Instance[] {
  return tag === undefined ? [...instances] : instances.filter((instance) => instance.tags?.includes(tag));
}

/**
 * The answer about instances already filtered by tag, started at `rotation`
 * (modulo their count) so that successive answers lead with each instance in
 * turn. None left: the name does not exist (Consul's answer for a service
 * without healthy instances).
 */
export function serviceRecords(question: Question, instances: readonly Instance[], rotation: number, zone: ZoneSettings): RecordSet {
  if (instances.length === 0) return negative("NXDOMAIN", zone);
  const start = rotation % instances.length;
  const ordered = [...instances.slice(start), ...instances.slice(0, start)];
  if (question.type === "SRV") return srvRecords(question.name, ordered, zone);
  const answers = ordered.flatMap((instance) => addressRecord(question.name, question.type, instance.address, zone.ttl) ?? []);
  return answers.length > 0 ? positive(answers) : negative("NOERROR", zone);
}

/** The answer for `<hex>.addr.<domain>`: the address it spells. */
export function addressRecords(question: Question, address: string, zone: ZoneSettings): RecordSet {
  const answer = addressRecord(question.name, question.type, address, zone.ttl);
  return answer ? positive([answer]) : negative("NOERROR", zone);
}

/** The domain itself: its SOA record, nothing else. */
export function apexRecords(question: Question, zone: ZoneSettings): RecordSet {
  return question.type === "SOA" ? positive([soaRecord(zone)]) : negative("NOERROR", zone);
}

/** NXDOMAIN or NODATA (NOERROR without answers), with the SOA record that says how long to cache that. */
export function negative(rcode: "NOERROR" | "NXDOMAIN", zone: ZoneSettings): RecordSet {
  return { rcode, answers: [], additionals: [], authorities: [soaRecord(zone)] };
}

/** An error answer with no records: FORMERR, SERVFAIL, NOTIMP, REFUSED. */
export function failure(rcode: Exclude<Rcode, "NOERROR" | "NXDOMAIN">): RecordSet {
  return { rcode, answers: [], additionals: [], authorities: [] };
}

function srvRecords(name: string, instances: readonly Instance[], zone: ZoneSettings): RecordSet {
  // An address that is neither an IP nor a valid host name cannot be a target.
  const reachable = instances.filter((instance) => instance.port !== undefined && (isIpAddress(instance.address) || isPlainHostName(instance.address)));
  if (reachable.length === 0) return negative("NOERROR", zone);
  const answers: Answer[] = [];
  const additionals: Answer[] = [];
  for (const { address, port = 0 } of reachable) {
    const isIp = isIpAddress(address);
    // A host name is its own target; an IP needs a name, which answers with it.
    const target = isIp ? addressName(address, zone.domain) : address;
    answers.push({ type: "SRV", name, ttl: zone.ttl, data: { priority: 1, weight: 1, port, target } });
    const glue = isIp ? addressRecord(target, isIPv4(address) ? "A" : "AAAA", address, zone.ttl) : undefined;
    if (glue && !additionals.some((known) => known.name === target)) additionals.push(glue);
  }
  return { rcode: "NOERROR", answers, additionals, authorities: [] };
}

function addressRecord(name: string, type: RecordType, address: string, ttl: number): Answer | undefined {
  if (type === "A" && isIPv4(address)) return { type: "A", name, ttl, data: address };
  if (type === "AAAA" && isIPv6(address)) return { type: "AAAA", name, ttl, data: address };
  return undefined;
}

function isIpAddress(address: string): boolean {
  return isIPv4(address) || isIPv6(address);
}

function positive(answers: readonly Answer[]): RecordSet {
  return { rcode: "NOERROR", answers, additionals: [], authorities: [] };
}

/** The zone is never transferred, so its serial stays 1; `minimum` is how long a negative answer may be cached. */
function soaRecord({ domain, ttl }: ZoneSettings): Answer {
  const apex = domain.join(".");
  return {
    type: "SOA",
    name: apex,
    ttl,
    data: { mname: `ns.${apex}`, rname: `hostmaster.${apex}`, serial: 1, refresh: 3600, retry: 600, expire: 86400, minimum: ttl },
  };
}
