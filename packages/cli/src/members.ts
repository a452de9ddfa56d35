/**
 * Members as the membership commands name them: by name or by id in hex, as
 * member list prints them. Also the cluster's own list of client URLs, for
 * the commands that reach every member (--cluster, move-leader).
 */
import type { EndpointStatus, Member } from "@raftkv/client";
import { idFromHex, toHex } from "./arguments.js";
import { UsageError } from "./errors.js";

/** The member called `nameOrId`: a name first (names are what people type), else a hex id. */
export function findMember(members: readonly Member[], nameOrId: string): Member {
  const byName = members.find((member) => member.name !== "" && member.name === nameOrId);
  if (byName) return byName;
  const id = idFromHex(nameOrId);
  const byId = members.find((member) => member.id === id);
  if (byId) return byId;
  const known = members.map((member) => (member.name === "" ? `${toHex(member.id)} (unstarted)` : `${member.name} (${toHex(member.id)})`));
  throw new UsageError(`no member is named or has the id ${JSON.stringify(nameOrId)}; the members are ${known.join(", ")}`);
}

/** etcd's word for a member that has not yet started and published its name. */
export function memberStatus(member: Member): "started" | "unstarted" {
  return member.name === "" ? "unstarted" : "started";
}

/** Every member's client URLs, in member order, each once. */
export function clientUrlsOf(members: readonly Member[]): string[] {
  const urls = [...new Set(members.flatMap((member) => member.clientUrls))];
  if (urls.length === 0) throw new Error("the member list has no client URLs: no member has started yet");
  return urls;
}

/** The endpoint whose member says it leads, among `statuses`. */
export function leaderEndpoint(statuses: readonly EndpointStatus[]): string {
  const leader = statuses.find((each) => "status" in each && each.status.leader === each.status.header.memberId);
  if (!leader) throw new Error(`no leader among ${statuses.map((each) => each.endpoint).join(", ")}: the cluster may be electing one, try again`);
  return leader.endpoint;
}
