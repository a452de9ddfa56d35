/**
 * One DNS message in, one out: decodes the query with dns-packet, finds what
 * its name asks for, reads the registry through an InstanceSource, and
 * encodes the answer within the size the transport allows. Bad input never
 * throws: a message too short to carry a header, or itself a response, is
 * dropped; one that does not decode is FORMERR; other opcodes are NOTIMP.
 */
import dnsPacket, { type Answer, type DecodedPacket, type Packet, type Question as DnsQuestion } from "dns-packet";
import type { Instance } from "../recipes/services.js";
import { lookupOf, type NameLookup } from "./names.js";
import { addressRecords, apexRecords, failure, matchingInstances, negative, serviceRecords, type Rcode, type RecordSet, type ZoneSettings } from "./records.js";

/** Where answers come from; rejects when no answer can be given now (SERVFAIL). */
export interface InstanceSource {
  instances(service: string): Promise<readonly Instance[]>;
}

export type Transport = "udp" | "tcp";

/** What became of a message: the rcode answered, or dropped without an answer. */
export type QueryResult = Rcode | "dropped";

export interface Reply {
  readonly result: QueryResult;
  /** The encoded answer; absent when the message is dropped. */
  readonly message?: Buffer;
}

const HEADER_BYTES = 12;
/** RFC 1035's limit for a UDP answer when the query does not say it takes more (EDNS). */
const CLASSIC_UDP_BYTES = 512;
/** The most this member sends over UDP, whatever EDNS offers: larger answers go over TCP rather than fragment. */
const MAX_UDP_BYTES = 4096;
/** A TCP message's 16-bit length prefix. */
const MAX_TCP_BYTES = 65_535;
const OPCODE_QUERY = 0;
const RCODE_VALUES: Record<Rcode, number> = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 };

export class DnsResponder {
  /** Advances once per service answer, so each leads with the next instance. */
  private rotation = 0;

  constructor(
    private readonly zone: ZoneSettings,
    private readonly source: InstanceSource,
  ) {}

  async respond(message: Buffer, transport: Transport): Promise<Reply> {
    if (message.length < HEADER_BYTES || isResponse(message)) return { result: "dropped" };
    const query = decodeQuery(message);
    const opcode = opcodeOf(message);
    const question = query && opcode === OPCODE_QUERY ? soleQuestion(message, query) : undefined;
    if (!query || !question) {
      const rcode = query && opcode !== OPCODE_QUERY ? "NOTIMP" : "FORMERR";
      return encodeReply({ id: message.readUInt16BE(0), opcode, query: undefined }, failure(rcode), transport);
    }
    const records = await this.recordsFor(question, lookupOf(question.name, this.zone.domain));
    return encodeReply({ id: query.id ?? 0, opcode, query }, records, transport);
  }

  private async recordsFor(question: DnsQuestion, lookup: NameLookup): Promise<RecordSet> {
    if (lookup.kind === "outside" || (question.class ?? "IN") !== "IN") return failure("REFUSED");
    if (lookup.kind === "unknown") return negative("NXDOMAIN", this.zone);
    if (lookup.kind === "apex") return apexRecords(question, this.zone);
    if (lookup.kind === "address") return addressRecords(question, lookup.address, this.zone);
    let instances: readonly Instance[];
    try {
      instances = await this.source.instances(lookup.service);
    } catch {
      return failure("SERVFAIL");
    }
    return serviceRecords(question, matchingInstances(instances, lookup.tag), this.rotation++, this.zone);
  }
}

function decodeQuery(message: Buffer): DecodedPacket | undefined {
  try {
    return dnsPacket.decode(message);
  } catch {
    return undefined;
  }
}

/**
 * The query's one question, if it has exactly one and that one encodes back
 * to the bytes it came as, so that the answer echoes it exactly (resolvers
 * match answers to questions by those bytes). dns-packet joins a name's
 * labels with dots, so a label holding a dot, or bytes that are not UTF-8,
 * would come back as a different name.
 */
function soleQuestion(message: Buffer, query: DecodedPacket): DnsQuestion | undefined {
  const [question, ...more] = query.questions ?? [];
  if (!question || more.length > 0) return undefined;
  try {
    const echoed = dnsPacket.encode({ type: "query", id: 0, questions: [question] }).subarray(HEADER_BYTES);
    return echoed.equals(message.subarray(HEADER_BYTES, HEADER_BYTES + echoed.length)) ? question : undefined;
  } catch {
    return undefined;
  }
}

function isResponse(message: Buffer): boolean {
  return (message[2]! & 0x80) !== 0;
}

function opcodeOf(message: Buffer): number {
  return (message[2]! >> 3) & 0x0f;
}

interface ReplyTo {
  readonly id: number;
  readonly opcode: number;
  /** The query, when it decoded: its question is echoed, its flags and EDNS option heeded. */
  readonly query: DecodedPacket | undefined;
}

function encodeReply({ id, opcode, query }: ReplyTo, records: RecordSet, transport: Transport): Reply {
  const edns = query?.additionals?.find((record) => record.type === "OPT");
  const recursionDesired = query?.flag_rd ? dnsPacket.RECURSION_DESIRED : 0;
  const packet: Packet = {
    type: "response",
    id,
    flags: (opcode << 11) | dnsPacket.AUTHORITATIVE_ANSWER | recursionDesired | RCODE_VALUES[records.rcode],
    questions: query?.questions ?? [],
    answers: [...records.answers],
    authorities: [...records.authorities],
    // RFC 6891: an answer to an EDNS query carries an OPT record of its own.
    additionals: [...records.additionals, ...(edns ? [ednsRecord()] : [])],
  };
  const limit = transport === "tcp" ? MAX_TCP_BYTES : udpLimit(edns?.type === "OPT" ? edns.udpPayloadSize : undefined);
  return { result: records.rcode, message: dnsPacket.encode(fitted(packet, limit)) };
}

function udpLimit(offered: number | undefined): number {
  return Math.min(Math.max(offered ?? CLASSIC_UDP_BYTES, CLASSIC_UDP_BYTES), MAX_UDP_BYTES);
}

function ednsRecord(): Answer {
  return { type: "OPT", name: ".", udpPayloadSize: MAX_UDP_BYTES, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] };
}

/**
 * An answer that does not fit keeps as many answer records as fit, loses
 * its additional records (EDNS's OPT aside) and sets TC, so that the
 * resolver asks again over TCP.
 */
function fitted(packet: Packet, limit: number): Packet {
  if (dnsPacket.encodingLength(packet) <= limit) return packet;
  const additionals = (packet.additionals ?? []).filter((record) => record.type === "OPT");
  const answers = [...(packet.answers ?? [])];
  const truncated: Packet = { ...packet, flags: (packet.flags ?? 0) | dnsPacket.TRUNCATED_RESPONSE, answers, additionals, authorities: [] };
  while (answers.length > 0 && dnsPacket.encodingLength(truncated) > limit) answers.pop();
  return truncated;
}
