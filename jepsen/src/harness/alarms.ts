/**
 * The operator's last step after freeing a member's disk: disarming the
 * NOSPACE alarm, as `etcdctl alarm disarm` does (list the alarms, deactivate
 * each). A member short of space raises NOSPACE through the log, and every
 * member then refuses writes that grow the store until it is disarmed.
 */
import type { ClusterDriver } from "./cluster.js";
import { postJson } from "./http.js";
import { onAnyMember } from "./workloads/store.js";

interface AlarmReply {
  readonly alarms?: readonly { readonly memberID?: string; readonly alarm?: string }[];
}

/** Disarms every NOSPACE alarm; resolves with the ids of the members whose alarm it disarmed. */
export async function disarmNoSpace(driver: ClusterDriver, deadlineMs: number): Promise<string[]> {
  const urls = driver.nodes.map((node) => driver.clientUrl(node));
  return onAnyMember(urls, deadlineMs, async (url) => {
    const { alarms = [] } = await postJson<AlarmReply>(url, "/v3/maintenance/alarm", { action: "GET" }, REQUEST_TIMEOUT_MS);
    const noSpace = alarms.filter((alarm) => alarm.alarm === "NOSPACE").map((alarm) => alarm.memberID ?? "0");
    for (const memberID of noSpace) {
      await postJson(url, "/v3/maintenance/alarm", { action: "DEACTIVATE", memberID, alarm: "NOSPACE" }, REQUEST_TIMEOUT_MS);
    }
    return noSpace;
  });
}

const REQUEST_TIMEOUT_MS = 2_000;
