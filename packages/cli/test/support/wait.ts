import { setTimeout as pause } from "node:timers/promises";

/** Polls `condition` until it holds; fails naming `what` once `timeoutMs` has passed. */
export async function waitUntil(what: string, condition: () => boolean | Promise<boolean>, { timeoutMs = 10_000, intervalMs = 50 } = {}): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await pause(intervalMs);
  }
}
