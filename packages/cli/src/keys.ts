/**
 * Keys as the kv commands take and print them: a key alone, a key and a
 * range end, --prefix or --from-key (etcd's ways of naming several keys),
 * and key-values as lines and table rows.
 */
import type { KeyValue, RangeSelection } from "@raftkv/client";
import type { Command } from "commander";
import { toHex } from "./arguments.js";
import { UsageError } from "./errors.js";
import { tableOf, type Column, type Table } from "./output.js";

export interface RangeFlags {
  readonly prefix?: boolean;
  readonly fromKey?: boolean;
}

export function addRangeOptions(command: Command): Command {
  return command
    .option("--prefix", "every key that starts with <key> (an empty key: every key)")
    .option("--from-key", "every key from <key> on, in byte order");
}

/** The selection for `key` [range_end] and the flags; at most one of them may widen the key. */
export function rangeSelection(rangeEnd: string | undefined, flags: RangeFlags): RangeSelection {
  const widenings = [rangeEnd !== undefined && "[range_end]", flags.prefix && "--prefix", flags.fromKey && "--from-key"].filter(Boolean);
  if (widenings.length > 1) throw new UsageError(`${widenings.join(" and ")} cannot be used together`);
  return { prefix: flags.prefix, fromKey: flags.fromKey, rangeEnd };
}

/** etcdctl's simple form: the key on one line, the value on the next. */
export function keyValueLines(kv: KeyValue): string[] {
  return [kv.key.toString(), kv.value.toString()];
}

/** Key-values as a table; `withValues` false for --keys-only, where the VALUE column would stand empty. */
export function keyValueTable(kvs: readonly KeyValue[], withValues = true): Table {
  const columns: Column<KeyValue>[] = [
    ["KEY", (kv) => kv.key.toString()],
    ...(withValues ? [["VALUE", (kv: KeyValue) => kv.value.toString()] as const] : []),
    ["VERSION", (kv) => String(kv.version)],
    ["CREATE REVISION", (kv) => String(kv.createRevision)],
    ["MOD REVISION", (kv) => String(kv.modRevision)],
    ["LEASE", (kv) => leaseCell(kv.lease)],
  ];
  return tableOf(kvs, columns);
}

/** A lease id in hex, or nothing for a key bound to no lease. */
export function leaseCell(lease: number): string {
  return lease === 0 ? "" : toHex(lease);
}
