/**
 * What a question's name asks for. Under the domain (`raftkv.` by default):
 *
 * - `<service>.service.<domain>`: a service's instances;
 * - `<tag>.<service>.service.<domain>`: those carrying a tag;
 * - `_<service>._tcp.service.<domain>`: the RFC 2782 form of the first, and
 *   `_<service>._<tag>.service.<domain>` of the second (as Consul reads them);
 * - `<hex>.addr.<domain>`: an address spelled in hex (8 digits for IPv4, 32
 *   for IPv6), the target of SRV records whose instance registered an IP;
 * - the domain itself, which exists but holds only its SOA record.
 *
 * Service names and tags are matched as the query spells them (the registry's
 * names are case-sensitive); the domain and keywords in any case.
 */
import { isIPv4 } from "node:net";

export type NameLookup =
  /** Not under the domain: REFUSED, this member answers for nothing else. */
  | { readonly kind: "outside" }
  /** Under the domain but naming nothing: NXDOMAIN. */
  | { readonly kind: "unknown" }
  | { readonly kind: "apex" }
  | { readonly kind: "service"; readonly service: string; readonly tag: string | undefined }
  | { readonly kind: "address"; readonly address: string };

/** A domain as labels, lower case, without the root: "raftkv." and "RaftKV" are both ["raftkv"]. */
export function domainLabels(domain: string): string[] {
  return labelsOf(domain.toLowerCase());
}

export function lookupOf(name: string, domain: readonly string[]): NameLookup {
  const labels = labelsOf(name);
  const inside = labels.length - domain.length;
  if (inside < 0 || domain.some((label, i) => labels[inside + i]?.toLowerCase() !== label)) return { kind: "outside" };
  return lookupInside(labels.slice(0, inside));
}

function lookupInside(labels: readonly string[]): NameLookup {
  if (labels.length === 0) return { kind: "apex" };
  const keyword = labels.at(-1)?.toLowerCase();
  if (keyword === "addr" && labels.length === 2) return addressLookup(labels[0]!);
  if (keyword !== "service") return { kind: "unknown" };
  const [first, second] = labels;
  if (labels.length === 2 && first) return { kind: "service", service: first, tag: undefined };
  if (labels.length === 3 && first && second) {
    if (isUnderscored(first) && isUnderscored(second)) {
      const protocolOrTag = second.slice(1);
      return { kind: "service", service: first.slice(1), tag: protocolOrTag.toLowerCase() === "tcp" ? undefined : protocolOrTag };
    }
    return { kind: "service", service: second, tag: first };
  }
  return { kind: "unknown" };
}

/** The name under which an IP address answers: `7f000001.addr.<domain>` for 127.0.0.1. */
export function addressName(address: string, domain: readonly string[]): string {
  return [addressHex(address), "addr", ...domain].join(".");
}

function addressHex(address: string): string {
  if (isIPv4(address))
    return address
      .split(".")
      .map((part) => Number(part).toString(16).padStart(2, "0"))
      .join("");
  return ipv6Groups(address)
    .map((group) => group.padStart(4, "0"))
    .join("");
}

function addressLookup(hex: string): NameLookup {
  const lower = hex.toLowerCase();
  if (/^[0-9a-f]{8}$/.test(lower)) return { kind: "address", address: (lower.match(/../g) ?? []).map((byte) => parseInt(byte, 16)).join(".") };
  if (/^[0-9a-f]{32}$/.test(lower)) return { kind: "address", address: (lower.match(/.{4}/g) ?? []).join(":") };
  return { kind: "unknown" };
}

/** The eight 16-bit groups of an IPv6 address, in hex, with "::" expanded and a trailing IPv4 part converted. */
function ipv6Groups(address: string): string[] {
  const [head = "", tail] = address.split("::");
  const groupsOf = (part: string): string[] => part.split(":").filter(Boolean).flatMap(ipv4AsGroups);
  const before = groupsOf(head);
  const after = tail === undefined ? [] : groupsOf(tail);
  return [...before, ...Array<string>(8 - before.length - after.length).fill("0"), ...after];
}

function ipv4AsGroups(part: string): string[] {
  if (!isIPv4(part)) return [part];
  const [a = 0, b = 0, c = 0, d = 0] = part.split(".").map(Number);
  return [((a << 8) | b).toString(16), ((c << 8) | d).toString(16)];
}

const MAX_NAME_LENGTH = 253;
/** 1 to 63 printable ASCII characters other than the dot. */
const PLAIN_LABEL = /^[\x21-\x2d\x2f-\x7e]{1,63}$/;

/**
 * Whether a registered host name can be an SRV target: dns-packet writes a
 * label's length into one byte unchecked, so a longer label, or characters
 * that are not plain ASCII, would make a malformed answer.
 */
export function isPlainHostName(name: string): boolean {
  if (name === "" || name === ".") return true;
  return (
    name.length <= MAX_NAME_LENGTH &&
    name
      .replace(/\.$/, "")
      .split(".")
      .every((label) => PLAIN_LABEL.test(label))
  );
}

function labelsOf(name: string): string[] {
  return name.split(".").filter((label) => label !== "");
}

function isUnderscored(label: string): boolean {
  return label.length > 1 && label.startsWith("_");
}
