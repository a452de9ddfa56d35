/** Why a connection to a peer failed or could not be made. */
export type FailureCause =
  /** The connection broke: ECONNRESET, EPIPE, ECONNABORTED, or the peer ended the stream. */
  | "reset"
  /** ECONNREFUSED: nothing listens at the peer's address. */
  | "refused"
  /** The peer answered our hello with a refusal (another cluster, an unknown member). */
  | "rejected"
  /** No connection or no answer to the hello in time. */
  | "timeout"
  /** Anything else: unreachable host or network, a protocol violation, ... */
  | "error";

export interface ConnectionFailure {
  readonly cause: FailureCause;
  /** The socket error code, "EOF" for an end of stream, "EPROTO" for a protocol violation. */
  readonly code?: string;
  readonly detail: string;
}

/**
 * True when the failure says the peer's process is gone (its connection was
 * reset or ended, or its port is closed) rather than slow or cut off: the
 * signal to start an election at once if the peer was the leader.
 */
export function isPeerDown(failure: ConnectionFailure): boolean {
  return failure.cause === "reset" || failure.cause === "refused";
}

/** The refusal a member gets from a peer that applied its removal from the cluster (etcd's wording). */
export const MEMBER_REMOVED_REFUSAL = "the member has been permanently removed from the cluster";

/** True when a peer refused us because we were removed from the cluster: time to stop taking part. */
export function isRemovalRefusal(failure: ConnectionFailure): boolean {
  return failure.cause === "rejected" && failure.detail === MEMBER_REMOVED_REFUSAL;
}

export const END_OF_STREAM: ConnectionFailure = Object.freeze({ cause: "reset", code: "EOF", detail: "the peer ended the stream" });

const CAUSE_BY_CODE: Readonly<Record<string, FailureCause>> = {
  ECONNRESET: "reset",
  EPIPE: "reset",
  ECONNABORTED: "reset",
  ECONNREFUSED: "refused",
  ETIMEDOUT: "timeout",
};

export function socketFailure(error: Error & { code?: unknown }): ConnectionFailure {
  const code = typeof error.code === "string" ? error.code : undefined;
  const cause = (code !== undefined && CAUSE_BY_CODE[code]) || "error";
  return code === undefined ? { cause, detail: error.message } : { cause, code, detail: error.message };
}

export function protocolFailure(error: unknown): ConnectionFailure {
  return { cause: "error", code: "EPROTO", detail: describe(error) };
}

/** The message of anything thrown. */
export function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** A connection that failed, or could not be opened. */
export class ConnectionError extends Error {
  override readonly name = "ConnectionError";

  constructor(readonly failure: ConnectionFailure) {
    super(failure.detail);
  }
}
