/**
 * etcd's alarms: a condition that stops the cluster from taking writes until
 * an operator clears it. CORRUPT is raised when a member's data differs from
 * the others' at the same revision (see corruption-check.ts); NOSPACE is
 * etcd's other kind, accepted so that etcd's clients can name it. Alarms are
 * raised and cleared through the log, so every member holds the same list;
 * it is kept in alarms.json and travels in snapshots.
 */
import { join } from "node:path";
import { readJsonIfExists, writeJsonDurably } from "./durable-file.js";

export type AlarmType = "NOSPACE" | "CORRUPT";

export interface AlarmMember {
  readonly memberId: number;
  readonly alarm: AlarmType;
}

export class AlarmRegistry {
  private alarms: AlarmMember[] = [];

  private constructor(private readonly file: string) {}

  static async load(dataDir: string): Promise<AlarmRegistry> {
    const registry = new AlarmRegistry(join(dataDir, "alarms.json"));
    registry.alarms = (await readJsonIfExists<AlarmMember[]>(registry.file)) ?? [];
    return registry;
  }

  /** Every active alarm, or those of one type. */
  list(type?: AlarmType): AlarmMember[] {
    return this.alarms.filter((alarm) => type === undefined || alarm.alarm === type);
  }

  isActive(type: AlarmType): boolean {
    return this.alarms.some((alarm) => alarm.alarm === type);
  }

  /** Raises an alarm; raising one already active changes nothing. Answers with the alarm, as etcd does. */
  async activate(raised: AlarmMember): Promise<AlarmMember> {
    const active = this.find(raised);
    if (active) return active;
    this.alarms = [...this.alarms, raised].sort(byMemberThenType);
    await this.save();
    return raised;
  }

  /** Clears an alarm; answers with it, or undefined if it was not active. */
  async deactivate(cleared: AlarmMember): Promise<AlarmMember | undefined> {
    const active = this.find(cleared);
    if (!active) return undefined;
    this.alarms = this.alarms.filter((alarm) => alarm !== active);
    await this.save();
    return active;
  }

  /** Takes the alarms a snapshot recorded. */
  async replaceAll(alarms: readonly AlarmMember[]): Promise<void> {
    this.alarms = [...alarms].sort(byMemberThenType);
    await this.save();
  }

  private find({ memberId, alarm }: AlarmMember): AlarmMember | undefined {
    return this.alarms.find((active) => active.memberId === memberId && active.alarm === alarm);
  }

  private async save(): Promise<void> {
    await writeJsonDurably(this.file, this.alarms);
  }
}

/** etcd's text form of an alarm, as its status `errors` carry it: protobuf's text format, trailing space included. */
export function describeAlarm({ memberId, alarm }: AlarmMember): string {
  return `memberID:${memberId} alarm:${alarm} `;
}

function byMemberThenType(a: AlarmMember, b: AlarmMember): number {
  return a.memberId - b.memberId || a.alarm.localeCompare(b.alarm);
}
