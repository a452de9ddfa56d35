/**
 * Callers waiting for a condition that only some events can change (a batch
 * applied, a new leader): whoever sees such an event calls recheck(), and
 * nobody polls.
 */
import { systemClock, type Clock } from "./clock.js";
import { etcdError } from "./errors.js";

export class ConditionWaiters {
  private readonly waiting = new Set<() => void>();

  constructor(private readonly clock: Clock = systemClock) {}

  /** Resolves once `condition` holds at a recheck (or at once); rejects with etcd's timeout after `timeoutMs`. */
  until(condition: () => boolean, timeoutMs: number): Promise<void> {
    if (condition()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (!condition()) return;
        this.waiting.delete(check);
        this.clock.clearTimeout(timer);
        resolve();
      };
      const timer = this.clock.setTimeout(() => {
        this.waiting.delete(check);
        reject(etcdError("timeout"));
      }, timeoutMs);
      this.waiting.add(check);
    });
  }

  /** Something the conditions may depend on changed: asks each again. */
  recheck(): void {
    for (const check of [...this.waiting]) check();
  }
}
