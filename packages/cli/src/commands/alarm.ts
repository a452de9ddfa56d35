/**
 * `raftkv alarm list|disarm`: the cluster's alarms, as etcdctl shows them
 * (one `memberID:<decimal id> alarm:<type> ` line each). NOSPACE is raised
 * when a member runs out of space, CORRUPT when its data differs from the
 * others'; either stops writes until disarmed.
 */
import type { AlarmMember, ResponseHeader } from "@raftkv/client";
import type { Command } from "commander";
import { headerJson } from "../json-shapes.js";
import { show } from "../output.js";
import { withClient } from "../session.js";

/** etcd's AlarmType numbers, as etcdctl's JSON shows them. */
const ALARM_NUMBERS: Record<AlarmMember["alarm"], number> = { NOSPACE: 1, CORRUPT: 2 };

export function registerAlarm(program: Command): void {
  const alarm = program.command("alarm").description("list or clear the cluster's alarms (NOSPACE, CORRUPT)");
  alarm
    .command("list")
    .description("every active alarm")
    .action((_flags: unknown, command: Command) =>
      withClient(command, async ({ client, options }) => showAlarms(options.writeOut, await client.maintenance.alarmList())),
    );
  alarm
    .command("disarm")
    .description("clear every active alarm (a member still out of space raises NOSPACE again)")
    .action((_flags: unknown, command: Command) =>
      withClient(command, async ({ client, options }) => showAlarms(options.writeOut, await client.maintenance.alarmDisarm())),
    );
}

function showAlarms(format: Parameters<typeof show>[0], { header, alarms }: { header: ResponseHeader; alarms: readonly AlarmMember[] }): void {
  show(format, {
    json: () => ({ header: headerJson(header), alarms: alarms.map((each) => ({ memberID: each.memberId, alarm: ALARM_NUMBERS[each.alarm] })) }),
    simple: () => alarms.map((each) => `memberID:${each.memberId} alarm:${each.alarm} `),
  });
}
