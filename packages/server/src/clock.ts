/**
 * Time as the member sees it: the current time and timers, given from
 * outside. A running member uses the system's; a simulation gives one it
 * advances itself, so a whole member (and a whole cluster) runs under a seed.
 */

/** A pending timer. `unref` lets the process exit while it is pending (a no-op where there is no process to keep). */
export interface Timer {
  unref(): Timer;
}

export interface Clock {
  /** Milliseconds; only differences between two readings mean anything. */
  now(): number;
  setTimeout(callback: () => void, ms: number): Timer;
  clearTimeout(timer: Timer): void;
  setInterval(callback: () => void, ms: number): Timer;
  clearInterval(timer: Timer): void;
}

/** The system's clock and Node's timers. */
export const systemClock: Clock = {
  now: () => performance.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (timer) => clearTimeout(timer as NodeJS.Timeout),
  setInterval: (callback, ms) => setInterval(callback, ms),
  clearInterval: (timer) => clearInterval(timer as NodeJS.Timeout),
};

/** Resolves after `ms` on `clock`. */
export function sleep(clock: Clock, ms: number): Promise<void> {
  return new Promise((resolve) => clock.setTimeout(resolve, ms));
}
