/**
 * The keyspace as a tree of `/`-separated keys: a listing shows the direct
 * children of a folder (a prefix ending in `/`), a page at a time. A folder
 * holding a million keys costs one request, not a million rows: the listing
 * jumps past a folder as soon as it has seen one key in it.
 */
import { keyAfter, prefixEnd } from "../bytes.js";
import type { Kv, RangeOptions, RangeReply } from "../kv.js";

export type Entry = { readonly kind: "folder"; readonly prefix: Uint8Array } | { readonly kind: "key"; readonly kv: Kv };

export interface TreePage {
  readonly entries: Entry[];
  /** Where the next page starts, or undefined when the folder is done. */
  readonly next: Uint8Array | undefined;
}

const SLASH = 0x2f;
/** Keys read per request: enough for a page of leaves without paying for a large folder's keys. */
const BATCH = 100;

type Range = (key: Uint8Array, options: RangeOptions) => Promise<RangeReply>;

/** The entry `key` falls under in `folder`: the key itself, or the sub-folder holding it. */
export function entryOf(folder: Uint8Array, kv: Kv): Entry {
  const slash = kv.key.indexOf(SLASH, folder.length);
  return slash < 0 ? { kind: "key", kv } : { kind: "folder", prefix: kv.key.slice(0, slash + 1) };
}

/** The first key a listing of `folder` reads: etcd takes no empty key, so the root starts at "\0". */
const firstKeyOf = (folder: Uint8Array): Uint8Array => (folder.length > 0 ? folder : Uint8Array.of(0));

/** Up to `size` entries of `folder` from `start` (a page's `next`) on. */
export async function listFolder(range: Range, folder: Uint8Array, size: number, start = firstKeyOf(folder)): Promise<TreePage> {
  const end = prefixEnd(folder);
  const entries: Entry[] = [];
  let cursor: Uint8Array | undefined = start;
  while (cursor && entries.length < size) {
    const reply = await range(cursor, { rangeEnd: end, limit: BATCH, keysOnly: true });
    const last = reply.kvs[reply.kvs.length - 1];
    cursor = takeEntries(folder, reply.kvs, entries, size) ?? (reply.more && last ? keyAfter(last.key) : undefined);
  }
  return { entries, next: cursor && (await hasKeyFrom(range, cursor, end)) ? cursor : undefined };
}

/**
 * Adds the entries of a batch until the page is full or a folder appears;
 * returns where to read on from, or undefined when the whole batch was taken.
 */
function takeEntries(folder: Uint8Array, kvs: readonly Kv[], entries: Entry[], size: number): Uint8Array | undefined {
  for (const kv of kvs) {
    if (entries.length === size) return kv.key;
    const entry = entryOf(folder, kv);
    entries.push(entry);
    // The rest of the batch may lie inside the folder: read on from its end.
    if (entry.kind === "folder") return prefixEnd(entry.prefix);
  }
  return undefined;
}

async function hasKeyFrom(range: Range, start: Uint8Array, end: Uint8Array): Promise<boolean> {
  return (await range(start, { rangeEnd: end, limit: 1, keysOnly: true })).kvs.length > 0;
}
