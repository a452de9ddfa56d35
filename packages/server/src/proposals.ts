/**
 * Callers waiting for their writes: every member applies every entry, so the
 * member that took a request settles it when the entry carrying its request
 * id is applied locally, wherever the leader was. Each caller also remembers
 * the leader its write went through: once another member leads and this one
 * has applied what the new leader committed first, a write still waiting
 * was dropped with the old leader and will never be applied, so its caller
 * is told at once instead of waiting out the timeout.
 */
import { systemClock, type Clock, type Timer } from "./clock.js";
import { etcdError } from "./errors.js";

interface Waiter {
  /** The leader the write was proposed through. */
  readonly leader: number;
  readonly resolve: (result: unknown) => void;
  readonly reject: (error: Error) => void;
  readonly timer: Timer;
}

export class ProposalTracker {
  private readonly waiters = new Map<string, Waiter>();

  constructor(
    private readonly timeoutMs: number,
    private readonly clock: Clock = systemClock,
  ) {}

  /** Registers interest in a request id before it is proposed through `leader`. */
  wait<T>(requestId: string, leader: number): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = this.clock.setTimeout(() => {
        this.waiters.delete(requestId);
        reject(etcdError("timeout"));
      }, this.timeoutMs);
      this.waiters.set(requestId, { leader, resolve: resolve as (result: unknown) => void, reject, timer });
    });
  }

  resolve(requestId: string, result: unknown): void {
    this.take(requestId)?.resolve(result);
  }

  reject(requestId: string, error: Error): void {
    this.take(requestId)?.reject(error);
  }

  rejectAll(error: Error): void {
    for (const id of [...this.waiters.keys()]) this.reject(id, error);
  }

  /** A new leader is known: writes proposed through any other one are answered with `error`. */
  rejectProposedElsewhere(leader: number, error: Error): void {
    for (const [id, waiter] of [...this.waiters]) if (waiter.leader !== leader) this.reject(id, error);
  }

  private take(requestId: string): Waiter | undefined {
    const waiter = this.waiters.get(requestId);
    if (!waiter) return undefined;
    this.clock.clearTimeout(waiter.timer);
    this.waiters.delete(requestId);
    return waiter;
  }
}
