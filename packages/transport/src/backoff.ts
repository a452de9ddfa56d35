/** How long to wait before dialing a peer again after failed attempts. */
export interface BackoffPolicy {
  /** The ceiling of the first retry's delay. */
  readonly initialMs: number;
  /** No retry waits longer than this. */
  readonly maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 25, maxMs: 1000 };

/**
 * The delay before retry number `attempt` (0 for the first): the ceiling
 * doubles per attempt up to `maxMs`, and the delay is drawn from the upper
 * half of it. The jitter keeps the members of a cluster that lost a peer
 * together from dialing it in lock step; keeping the lower half out keeps
 * a flapping peer from being hammered.
 */
export function backoffDelay(attempt: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxMs, policy.initialMs * 2 ** Math.min(attempt, 30));
  return ceiling / 2 + random() * (ceiling / 2);
}
