/**
 * How a member finds the address behind a peer's host name, without Node's
 * default lookup.
 *
 * The default (getaddrinfo) runs on one of libuv's four pool threads and
 * cannot be cancelled. Where a name's DNS server never answers — Docker's
 * embedded DNS asked for a stopped container's name, with no route to the
 * servers it forwards to — each lookup holds its thread for ten seconds. A
 * member redialing a dead peer soon holds all four, and its WAL fsyncs and
 * LevelDB reads wait behind them: in the compose cluster, killing the leader
 * left the two survivors without a leader until it came back.
 *
 * So, as Go's resolver does for etcd: the hosts file first, then DNS queries
 * from the event loop (c-ares), each with a deadline.
 */
import { promises as dns } from "node:dns";
import { readFile } from "node:fs/promises";
import { isIP, type LookupFunction } from "node:net";

export interface PeerLookupOptions {
  /** The hosts file consulted before DNS; /etc/hosts unless a test says otherwise. */
  readonly hostsFile?: string;
  /** DNS servers as `address[:port]`; the system's (resolv.conf) by default. */
  readonly servers?: readonly string[];
  /** How long one query waits for an answer before it is sent again, then given up. */
  readonly queryTimeoutMs?: number;
}

interface Address {
  readonly address: string;
  readonly family: 4 | 6;
}

/** A query's first wait; two tries bound a lookup of a name nobody answers for to about a second. */
const QUERY_TIMEOUT_MS = 300;
const QUERY_TRIES = 2;

/** Answers a host name with its address, for `net.connect`'s `lookup` option. */
export function peerLookup(options: PeerLookupOptions = {}): LookupFunction {
  const resolver = new dns.Resolver({ timeout: options.queryTimeoutMs ?? QUERY_TIMEOUT_MS, tries: QUERY_TRIES });
  if (options.servers) resolver.setServers([...options.servers]);
  const hostsFile = options.hostsFile ?? "/etc/hosts";
  return (hostname, lookupOptions, callback) => {
    resolve(hostname, hostsFile, resolver).then(
      (addresses) => {
        if (lookupOptions.all) callback(null, addresses);
        else callback(null, addresses[0]!.address, addresses[0]!.family);
      },
      (error: NodeJS.ErrnoException) => callback(error, "", 0),
    );
  };
}

async function resolve(hostname: string, hostsFile: string, resolver: dns.Resolver): Promise<Address[]> {
  const family = isIP(hostname);
  if (family === 4 || family === 6) return [{ address: hostname, family }];
  const listed = await fromHostsFile(hostname, hostsFile);
  if (listed.length > 0) return listed;
  return fromDns(hostname, resolver);
}

/** Read on every lookup: peers are dialed rarely, and an edited file counts at once. */
async function fromHostsFile(hostname: string, hostsFile: string): Promise<Address[]> {
  const text = await readFile(hostsFile, "utf8").catch(() => "");
  const wanted = hostname.toLowerCase();
  const found: Address[] = [];
  for (const line of text.split("\n")) {
    const [address, ...names] = line.replace(/#.*/, "").trim().split(/\s+/);
    const family = address === undefined ? 0 : isIP(address);
    if ((family === 4 || family === 6) && names.some((name) => name.toLowerCase() === wanted)) found.push({ address: address!, family });
  }
  return found;
}

async function fromDns(hostname: string, resolver: dns.Resolver): Promise<Address[]> {
  const v4 = await resolver.resolve4(hostname).catch(notFoundAsNone);
  if (v4.length > 0) return v4.map((address) => ({ address, family: 4 }));
  const v6 = await resolver.resolve6(hostname).catch(notFoundAsNone);
  if (v6.length > 0) return v6.map((address) => ({ address, family: 6 }));
  throw Object.assign(new Error(`no address for ${hostname}`), { code: "ENOTFOUND", hostname });
}

/** A name with no record of one family may have the other; anything else (a timeout, say) ends the lookup. */
function notFoundAsNone(error: NodeJS.ErrnoException): string[] {
  if (error.code === dns.NODATA || error.code === dns.NOTFOUND) return [];
  throw error;
}
