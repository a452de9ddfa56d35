import { setTimeout as sleep } from "node:timers/promises";

/** Waits `ms`; false if `signal` aborted first (at once if it already had). */
export async function pauseUnlessAborted(ms: number, signal: AbortSignal): Promise<boolean> {
  try {
    await sleep(ms, undefined, { signal });
    return true;
  } catch {
    return false;
  }
}
