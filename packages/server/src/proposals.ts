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
  /** When the caller is told "request timed out" (on the tracker's clock). */
  readonly deadline: number;
}

/**
 * Every waiter gets the same timeout, so the map, in insertion order, is in
 * deadline order too: one timer, set for the oldest waiter, expires them from
 * the front. A timer per write cost each one a Timeout object, its insertion
 * into Node's timer list and its removal when the write was answered.
 */
export class ProposalTracker {
  private readonly waiters = new Map<string, Waiter>();
  private timer: Timer | undefined;

  constructor(
    private readonly timeoutMs: number,
    private readonly clock: Clock = systemClock,
  ) {}

  /** Registers interest in a request id (never reused) before it is proposed through `leader`. */
  wait<T>(requestId: string, leader: number): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const deadline = this.clock.now() + this.timeoutMs;
      this.waiters.set(requestId, { leader, resolve: resolve as (result: unknown) => void, reject, deadline });
      this.timer ??= this.clock.setTimeout(() => this.expire(), this.timeoutMs);
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
    this.waiters.delete(requestId);
    // With nobody waiting, no timer is left to hold a stopping process open.
    if (this.waiters.size === 0 && this.timer !== undefined) {
      this.clock.clearTimeout(this.timer);
      this.timer = undefined;
    }
    return waiter;
  }

  /** Times out the waiters whose deadline passed, then sets the timer for the oldest one left. */
  private expire(): void {
    this.timer = undefined;
    const now = this.clock.now();
    for (const [id, waiter] of this.waiters) {
      if (waiter.deadline > now) {
        this.timer = this.clock.setTimeout(() => this.expire(), waiter.deadline - now);
        return;
      }
      this.waiters.delete(id);
      waiter.reject(etcdError("timeout"));
    }
  }
}
