import type { KeyString } from "./keys.js";
import type { LeaseRecord } from "./types.js";

/** etcd's MaxLeaseTTL: about 285 years, in seconds. */
export const MAX_LEASE_TTL = 9_000_000_000;

/**
 * Whether the lease was renewed after the leader's view of the leases at
 * `asOf` (a revoke or checkpoint judged without one stands).
 */
export function renewedSince(lease: LeaseRecord, asOf: number | undefined): boolean {
  return asOf !== undefined && lease.renewedAt > asOf;
}

/**
 * The leases and the keys attached to each. Records are persisted by the
 * caller; attachments are not persisted at all, since every key revision
 * carries its lease and they are rebuilt from the index on open.
 */
export class LeaseTable {
  private readonly records = new Map<number, LeaseRecord>();
  private readonly attached = new Map<number, Set<KeyString>>();

  get size(): number {
    return this.records.size;
  }

  get(id: number): LeaseRecord | undefined {
    return this.records.get(id);
  }

  has(id: number): boolean {
    return this.records.has(id);
  }

  /** All leases in id order. */
  all(): LeaseRecord[] {
    return [...this.records.values()].sort((a, b) => a.id - b.id);
  }

  set(record: LeaseRecord): void {
    this.records.set(record.id, record);
  }

  /** Removes the lease; returns the keys that were attached to it, in key order. */
  remove(id: number): KeyString[] {
    const keys = this.keysOf(id);
    this.records.delete(id);
    this.attached.delete(id);
    return keys;
  }

  keysOf(id: number): KeyString[] {
    return [...(this.attached.get(id) ?? [])].sort();
  }

  /** Moves a key from one lease to another; 0 stands for no lease on either side. */
  move(key: KeyString, from: number, to: number): void {
    if (from === to) return;
    if (from !== 0) this.attached.get(from)?.delete(key);
    if (to === 0) return;
    const keys = this.attached.get(to);
    if (keys === undefined) this.attached.set(to, new Set([key]));
    else keys.add(key);
  }
}

/**
 * A lease id for a grant that named none. Replicas must agree on it, so it is
 * derived from the raft index of the grant (a 64-bit mix of it, cut to 53
 * bits so it stays exact as a JS number) and moved past ids already taken.
 */
export function generatedLeaseId(raftIndex: number, taken: (id: number) => boolean): number {
  let id = Number(mix64(BigInt(raftIndex)) & ((1n << 53n) - 1n));
  while (id === 0 || taken(id)) id = (id + 1) % 2 ** 53;
  return id;
}

/** The finalizer of the SplitMix64 generator: spreads consecutive inputs over the whole range. */
function mix64(value: bigint): bigint {
  const mask = (1n << 64n) - 1n;
  let z = (value + 0x9e3779b97f4a7c15n) & mask;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & mask;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & mask;
  return z ^ (z >> 31n);
}
