import { setImmediate as nextTurn } from "node:timers/promises";

/** Yields to the event loop until `condition` holds; fails after `deadlineMs`. */
export async function waitFor(condition: () => boolean, what: string, deadlineMs = 10_000): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${deadlineMs} ms waiting for ${what}`);
    await nextTurn();
  }
}
