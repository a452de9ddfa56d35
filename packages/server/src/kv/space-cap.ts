/**
 * etcd's capped applier: while any member's NOSPACE alarm is active, an
 * entry that would grow the store (a put, a txn with a put, a lease grant)
 * is refused when applied, on every member alike, even if it was proposed
 * before the alarm was raised. Which members hold NOSPACE is a side record
 * of the MVCC store, written with the alarm's entry: a member that replays
 * the log after a crash starts from the alarms as of its store's applied
 * index, not from a later alarms.json, and so refuses exactly what it
 * refused the first time.
 */
import type { LogEntry, Request } from "@raftkv/mvcc";
import type { AlarmMember } from "../alarms.js";
import { costOf } from "../space-quota.js";

export const NOSPACE_RECORD = "nospace";

/** What the cap needs of one entry not yet applied. */
export interface CapEntry {
  readonly index: number;
  readonly request?: Request;
  readonly alarm?: { readonly action: "activate" | "deactivate"; readonly alarm: AlarmMember };
}

export interface CapDecision {
  /** Entries refused with "database space exceeded" instead of being applied. */
  readonly refused: ReadonlySet<number>;
  /** The side record each NOSPACE change leaves: the members holding it after that entry. */
  readonly records: ReadonlyMap<number, NonNullable<LogEntry["sideRecord"]>>;
}

/** Folds the entries in log order from the members holding NOSPACE before them. */
export function capForSpace(holding: readonly number[], entries: readonly CapEntry[]): CapDecision {
  const members = new Set(holding);
  const refused = new Set<number>();
  const records = new Map<number, NonNullable<LogEntry["sideRecord"]>>();
  for (const { index, request, alarm } of entries) {
    if (alarm?.alarm.alarm === "NOSPACE") {
      if (alarm.action === "activate") members.add(alarm.alarm.memberId);
      else members.delete(alarm.alarm.memberId);
      records.set(index, { name: NOSPACE_RECORD, value: encodeHolding(members) });
    } else if (request !== undefined && members.size > 0 && costOf(request) > 0) {
      refused.add(index);
    }
  }
  return { refused, records };
}

/** The members holding NOSPACE as a side record recorded them; undefined for a store written before the record existed. */
export function decodeHolding(record: Uint8Array | undefined): number[] | undefined {
  return record === undefined ? undefined : (JSON.parse(new TextDecoder().decode(record)) as number[]);
}

function encodeHolding(members: ReadonlySet<number>): Uint8Array {
  return new TextEncoder().encode(JSON.stringify([...members].sort((a, b) => a - b)));
}
