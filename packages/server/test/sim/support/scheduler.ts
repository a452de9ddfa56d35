/**
 * Simulated time for a whole cluster. Every timer of every member, every
 * message in flight and every client's next step is an event at a simulated
 * instant; the scheduler runs them one at a time, in time order (ties in the
 * order they were set), and before the next lets everything the last one
 * started settle: promises, immediates and the few real file writes a member
 * makes (its members.json). So a run depends on its seed alone.
 */
import type { Clock, Timer } from "../../../src/clock.js";

interface Event {
  readonly at: number;
  readonly order: number;
  readonly owner: string;
  readonly run: () => void;
  cancelled: boolean;
}

class SimTimer implements Timer {
  constructor(readonly event: { current: Event }) {}
  unref(): Timer {
    return this;
  }
}

/** How long (real time) settling may take before the run is called stuck: a file write on a loaded machine can take seconds. */
const STUCK_AFTER_MS = 120_000;

export class Scheduler {
  private time = 0;
  private order = 0;
  private readonly queue: Event[] = [];

  get now(): number {
    return this.time;
  }

  /** The clock one member sees; its timers die with it (see cancelOwner). */
  clockFor(owner: string): Clock {
    return {
      now: () => this.time,
      setTimeout: (callback, ms) => new SimTimer({ current: this.schedule(owner, ms, callback) }),
      setInterval: (callback, ms) => this.interval(owner, ms, callback),
      clearTimeout: (timer) => this.cancel(timer),
      clearInterval: (timer) => this.cancel(timer),
    };
  }

  /** Runs `callback` after `ms` of simulated time. */
  after(owner: string, ms: number, callback: () => void): void {
    this.schedule(owner, ms, callback);
  }

  /** What `start` answers, or `late` if `ms` of simulated time pass first (the deadline is set before `start` runs). */
  within<T, L>(owner: string, ms: number, late: L, start: () => Promise<T>): Promise<T | L> {
    const gaveUp = new Promise<L>((resolve) => this.schedule(owner, ms, () => resolve(late)));
    return Promise.race([start(), gaveUp]);
  }

  /** A crash: the owner's pending timers never fire. */
  cancelOwner(owner: string): void {
    for (const event of this.queue) if (event.owner === owner) event.cancelled = true;
  }

  /** Runs events until simulated time reaches `until` (or nothing is left to run). */
  async runUntil(until: number): Promise<void> {
    // What the caller started since the last event (a member it started, say) settles before time moves.
    await settle();
    for (;;) {
      const next = this.takeNextBefore(until);
      if (next === undefined) break;
      this.time = next.at;
      next.run();
      await settle();
    }
    this.time = Math.max(this.time, until);
  }

  private takeNextBefore(until: number): Event | undefined {
    for (;;) {
      const next = this.queue[0];
      if (next === undefined || next.at > until) return undefined;
      this.pop();
      if (!next.cancelled) return next;
    }
  }

  private schedule(owner: string, ms: number, run: () => void): Event {
    const event: Event = { at: this.time + Math.max(0, ms), order: this.order++, owner, run, cancelled: false };
    this.push(event);
    return event;
  }

  private interval(owner: string, ms: number, callback: () => void): Timer {
    const handle = { current: undefined as unknown as Event };
    const fire = (): void => {
      handle.current = this.schedule(owner, ms, fire);
      callback();
    };
    handle.current = this.schedule(owner, ms, fire);
    return new SimTimer(handle);
  }

  private cancel(timer: Timer): void {
    if (timer instanceof SimTimer) timer.event.current.cancelled = true;
  }

  // A binary heap on (at, order).
  private push(event: Event): void {
    const queue = this.queue;
    queue.push(event);
    for (let i = queue.length - 1; i > 0; ) {
      const parent = (i - 1) >> 1;
      if (!earlier(queue[i] as Event, queue[parent] as Event)) break;
      [queue[i], queue[parent]] = [queue[parent] as Event, queue[i] as Event];
      i = parent;
    }
  }

  private pop(): void {
    const queue = this.queue;
    const last = queue.pop() as Event;
    if (queue.length === 0) return;
    queue[0] = last;
    for (let i = 0; ; ) {
      const left = 2 * i + 1;
      const right = left + 1;
      let smallest = i;
      if (left < queue.length && earlier(queue[left] as Event, queue[smallest] as Event)) smallest = left;
      if (right < queue.length && earlier(queue[right] as Event, queue[smallest] as Event)) smallest = right;
      if (smallest === i) return;
      [queue[i], queue[smallest]] = [queue[smallest] as Event, queue[i] as Event];
      i = smallest;
    }
  }
}

function earlier(a: Event, b: Event): boolean {
  return a.at < b.at || (a.at === b.at && a.order < b.order);
}

/** What Node lists among its active resources while a promise chain of ours still waits on it: immediates and file requests (closing one included). */
const BUSY = /^(Immediate|FSReq|CloseReq)/;

/** Waits until nothing started so far is still going: no promise, immediate or file operation pending. */
async function settle(): Promise<void> {
  const stuckAt = performance.now() + STUCK_AFTER_MS;
  for (;;) {
    await new Promise((resolve) => setImmediate(resolve));
    const busy = process.getActiveResourcesInfo().filter((resource) => BUSY.test(resource));
    if (busy.length === 0) return;
    if (performance.now() > stuckAt) throw new Error(`the simulated cluster never settled: still busy with ${busy.join(", ")}`);
    // Only the disk is at work (a thread of libuv's): wait for it rather than spin.
    if (!busy.includes("Immediate")) await new Promise((resolve) => setTimeout(resolve, 1));
  }
}
