/**
 * What a request's failure says about its effect, whichever protocol carried
 * it. Each protocol names the cause it saw (http.ts, grpc.ts); this one table
 * decides which causes prove the request did nothing, so the gateway and gRPC
 * clients record the same outcome for the same event.
 */

/**
 * - `not sent`: no connection carried the request (refused, or gRPC had no
 *   connection to put it on);
 * - `timed out`: no answer before the client's deadline;
 * - `connection lost`: the connection broke with the request on it;
 * - `error answer`: the store answered with an error (etcd's "no leader",
 *   "request timed out", an unexpected HTTP status or gRPC code).
 */
export type FailureCause = "not sent" | "timed out" | "connection lost" | "error answer";

/**
 * Only a request that never left the client surely did nothing. An error
 * answer is not read for its meaning: a member can answer with an error
 * after it proposed the write (a request timeout), which a later leader may
 * still commit, and the harness treats every error answer alike.
 */
const SURELY_WITHOUT_EFFECT: Readonly<Record<FailureCause, boolean>> = {
  "not sent": true,
  "timed out": false,
  "connection lost": false,
  "error answer": false,
};

export class RequestFailure extends Error {
  constructor(
    readonly reason: FailureCause,
    message: string,
  ) {
    super(message);
  }
}

/** Whether the operation that ended with `error` surely did not take effect (`fail`), rather than maybe (`info`). */
export function surelyWithoutEffect(error: unknown): boolean {
  return error instanceof RequestFailure && SURELY_WITHOUT_EFFECT[error.reason];
}
