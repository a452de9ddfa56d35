/**
 * What only the leader may decide (membership changes, leadership transfer)
 * is forwarded to it when another member leads, as etcd forwards a learner
 * promotion: a client may ask any member. A forwarded request is marked and
 * never forwarded again, so a leadership change meanwhile cannot bounce it
 * around; the member it reached answers "not leader" instead.
 */
import { etcdError } from "../errors.js";

export const FORWARDED_HEADER = "x-raftkv-forwarded";

/** Longer than the leader takes to apply a change or finish a transfer (both bounded by the request timeout). */
const FORWARD_TIMEOUT_MS = 10_000;

export interface ForwardedReply {
  readonly status: number;
  /** The leader's JSON reply, passed on as it is. */
  readonly body: string;
}

export async function forwardToLeader(leaderUrl: string, path: string, body: unknown): Promise<ForwardedReply> {
  let response: Response;
  try {
    response = await fetch(`${leaderUrl}${path}`, {
      method: "POST",
      headers: { [FORWARDED_HEADER]: "1", "content-type": "application/json" },
      body: JSON.stringify(body ?? {}),
      signal: AbortSignal.timeout(FORWARD_TIMEOUT_MS),
    });
  } catch {
    // The leader went away (or stopped answering) while we asked it.
    throw etcdError("leaderChanged");
  }
  return { status: response.status, body: await response.text() };
}
