/**
 * Membership through the etcd v3 gateway: list, add (as a voter or a
 * learner), remove, promote, update. A change is sent to one member and not
 * retried once it may have reached it (see OutcomeUnknownError): adding a
 * member twice is not harmless.
 */
import { toNumber } from "./bytes.js";
import type { Member } from "./shared-types.js";
import type { CallOptions, Transport } from "./transport.js";
import { decodeHeader, parseJson, type Int64, type ResponseHeader, type WireHeader } from "./wire.js";

export interface MemberListResult {
  readonly header: ResponseHeader;
  readonly members: readonly Member[];
}

export interface MemberAddResult extends MemberListResult {
  /** The member just added. */
  readonly member: Member;
}

interface WireMember {
  readonly ID?: Int64;
  readonly name?: string;
  readonly peerURLs?: readonly string[];
  readonly clientURLs?: readonly string[];
  readonly isLearner?: boolean;
}

interface WireMembers {
  readonly header?: WireHeader;
  readonly member?: WireMember;
  readonly members?: readonly WireMember[];
}

export class ClusterClient {
  constructor(private readonly transport: Transport) {}

  async memberList(options: CallOptions = {}): Promise<MemberListResult> {
    return decodeMembers(await this.post("/v3/cluster/member/list", {}, options));
  }

  async memberAdd(peerUrls: readonly string[], options: CallOptions & { isLearner?: boolean } = {}): Promise<MemberAddResult> {
    const reply = await this.post("/v3/cluster/member/add", { peerURLs: peerUrls, isLearner: options.isLearner ?? false }, options);
    return { ...decodeMembers(reply), member: decodeMember(reply.member ?? {}) };
  }

  async memberRemove(id: number, options: CallOptions = {}): Promise<MemberListResult> {
    return decodeMembers(await this.post("/v3/cluster/member/remove", { ID: id }, options));
  }

  /** Makes a learner that has caught up a voter. */
  async memberPromote(id: number, options: CallOptions = {}): Promise<MemberListResult> {
    return decodeMembers(await this.post("/v3/cluster/member/promote", { ID: id }, options));
  }

  async memberUpdate(id: number, peerUrls: readonly string[], options: CallOptions = {}): Promise<MemberListResult> {
    return decodeMembers(await this.post("/v3/cluster/member/update", { ID: id, peerURLs: peerUrls }, options));
  }

  private async post(path: string, body: object, options: CallOptions): Promise<WireMembers> {
    const retry = path.endsWith("/list") ? "read" : "once";
    return parseJson<WireMembers>((await this.transport.call({ method: "POST", path, body: JSON.stringify(body), retry }, options)).body);
  }
}

function decodeMembers(reply: WireMembers): MemberListResult {
  return { header: decodeHeader(reply.header), members: (reply.members ?? []).map(decodeMember) };
}

function decodeMember(member: WireMember): Member {
  return {
    id: toNumber(member.ID),
    name: member.name ?? "",
    peerUrls: member.peerURLs ?? [],
    clientUrls: member.clientURLs ?? [],
    isLearner: member.isLearner ?? false,
  };
}
