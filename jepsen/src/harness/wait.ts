/** Waiting on conditions with deadlines, and pacing that stops at once when a run ends. */

const POLL_MS = 100;

/**
 * Polls `condition` every `pollMs` until it yields a value, the deadline
 * passes or `signal` aborts; throws naming what was awaited.
 */
export async function waitFor<T>(what: string, condition: () => Promise<T | undefined>, timeoutMs: number, signal?: AbortSignal, pollMs = POLL_MS): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline && !signal?.aborted) {
    try {
      const value = await condition();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    await delay(pollMs, signal);
  }
  if (signal?.aborted) throw new Error(`interrupted while waiting for ${what}`);
  const why = lastError instanceof Error ? `: ${lastError.message}` : "";
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${why}`);
}

/** Resolves after `ms`, or at once when `signal` aborts. */
export function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
  });
}

/**
 * A controller that aborts when any of `signals` does. Used instead of
 * AbortSignal.any, whose combined signal Node 20 may garbage-collect while
 * nothing but a listener holds it, so it never fires.
 */
export function abortWithAny(...signals: readonly AbortSignal[]): AbortController {
  const controller = new AbortController();
  const abort = () => controller.abort();
  for (const signal of signals) {
    if (signal.aborted) controller.abort();
    else signal.addEventListener("abort", abort, { once: true });
  }
  // Once aborted, by whichever cause or by hand, it stops listening, so a long-lived source does not collect listeners.
  const stopListening = (): void => {
    for (const signal of signals) signal.removeEventListener("abort", abort);
  };
  controller.signal.addEventListener("abort", stopListening, { once: true });
  return controller;
}

/** A controller that aborts after `ms` (its timer does not keep the process alive). */
export function abortAfter(ms: number): AbortController {
  const controller = new AbortController();
  setTimeout(() => controller.abort(), ms).unref();
  return controller;
}
