/**
 * Whether a user's roles cover a key or a key range, etcd's way: the
 * permissions of every role the user holds are merged, and a range is
 * allowed only if the merged ranges cover all of it. The root role covers
 * everything.
 */
import { ROOT, type AuthState, type Permission } from "./state.js";

export type Access = "read" | "write";

/** [start, end) over byte strings; `end` undefined is "every key from start on". */
interface Interval {
  readonly start: Buffer;
  readonly end: Buffer | undefined;
}

export function isRoot(state: AuthState, user: string): boolean {
  return state.users.get(user)?.roles.includes(ROOT) ?? false;
}

/** Whether `user` may read or write `key` (with etcd's range end: empty for the key alone, "\0" for every key from it on). */
export function isPermitted(state: AuthState, user: string, access: Access, key: Uint8Array, rangeEnd: Uint8Array): boolean {
  const account = state.users.get(user);
  if (!account) return false;
  if (account.roles.includes(ROOT)) return true;
  const granted = account.roles
    .flatMap((name) => state.roles.get(name)?.permissions ?? [])
    .filter((permission) => allows(permission, access))
    .map(intervalOf);
  return covers(merge(granted), intervalOf({ key, rangeEnd }));
}

function allows(permission: Permission, access: Access): boolean {
  return permission.type === "READWRITE" || (access === "read" ? permission.type === "READ" : permission.type === "WRITE");
}

/** A single key is the interval [key, key + "\0"). */
function intervalOf({ key, rangeEnd }: { readonly key: Uint8Array; readonly rangeEnd: Uint8Array }): Interval {
  const start = Buffer.from(key);
  if (rangeEnd.length === 0) return { start, end: Buffer.concat([start, Buffer.of(0)]) };
  if (rangeEnd.length === 1 && rangeEnd[0] === 0) return { start, end: undefined };
  return { start, end: Buffer.from(rangeEnd) };
}

function endsBefore(a: Buffer | undefined, b: Buffer | undefined): boolean {
  if (a === undefined) return false;
  return b === undefined || Buffer.compare(a, b) < 0;
}

/** Sorted, non-overlapping, adjacent intervals joined. */
function merge(intervals: readonly Interval[]): Interval[] {
  const sorted = [...intervals].sort((a, b) => Buffer.compare(a.start, b.start));
  const merged: Interval[] = [];
  for (const interval of sorted) {
    const last = merged[merged.length - 1];
    if (last && (last.end === undefined || Buffer.compare(interval.start, last.end) <= 0)) {
      merged[merged.length - 1] = { start: last.start, end: endsBefore(last.end, interval.end) ? interval.end : last.end };
    } else merged.push(interval);
  }
  return merged;
}

function covers(merged: readonly Interval[], wanted: Interval): boolean {
  // A range that ends before it starts is refused, as etcd's interval check refuses it.
  if (wanted.end !== undefined && Buffer.compare(wanted.end, wanted.start) <= 0) return false;
  return merged.some((interval) => Buffer.compare(interval.start, wanted.start) <= 0 && !endsBefore(interval.end, wanted.end));
}
