/**
 * The Raft loop's ticks on timers that run late, as Node's do on a busy event
 * loop: the core is ticked once a tick period on average all the same (an
 * election timeout is not stretched), and a member stopped for a while is
 * ticked once when it runs again, not for every tick it missed.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { SimDisk } from "@raftkv/wal";
import type { Clock, Timer } from "../src/clock.js";
import { loneVoter } from "./support/lone-leader.js";

const TICK_MS = 10;

interface LateTimer extends Timer {
  at: number;
  readonly order: number;
  readonly run: () => void;
  cancelled: boolean;
}

/**
 * Node's timers on a busy event loop: each runs `lateMs` after it was due,
 * and an interval is due again a period after it ran (Node re-arms it then).
 */
class LateClock implements Clock {
  private time = 0;
  private order = 0;
  private timers: LateTimer[] = [];

  constructor(private readonly lateMs: number) {}

  now(): number {
    return this.time;
  }

  setTimeout(callback: () => void, ms: number): Timer {
    return this.add(callback, ms);
  }

  setInterval(callback: () => void, ms: number): Timer {
    const timer: LateTimer = this.add(() => {
      timer.at = this.time + ms + this.lateMs;
      this.timers.push(timer);
      callback();
    }, ms);
    return timer;
  }

  clearTimeout(timer: Timer): void {
    (timer as LateTimer).cancelled = true;
  }

  clearInterval(timer: Timer): void {
    (timer as LateTimer).cancelled = true;
  }

  /** Runs what falls due until `until`, each at the time it runs late. */
  runUntil(until: number): void {
    for (;;) {
      this.timers = this.timers.filter((timer) => !timer.cancelled);
      const next = this.timers.reduce<LateTimer | undefined>(
        (first, timer) => (first && (first.at < timer.at || (first.at === timer.at && first.order < timer.order)) ? first : timer),
        undefined,
      );
      if (next === undefined || next.at > until) break;
      this.timers.splice(this.timers.indexOf(next), 1);
      this.time = Math.max(this.time, next.at);
      next.run();
    }
    this.time = until;
  }

  /** The process was stopped for `ms`: time moves on with nothing run, then what fell due runs. */
  stopFor(ms: number): void {
    this.time += ms;
    this.runUntil(this.time);
  }

  private add(run: () => void, ms: number): LateTimer {
    const timer: LateTimer = { at: this.time + ms + this.lateMs, order: this.order++, run, cancelled: false, unref: () => timer };
    this.timers.push(timer);
    return timer;
  }
}

/** A lone voter on `clock`, with a count of the ticks its core is given. */
async function countedVoter(clock: LateClock) {
  const voter = await loneVoter(new SimDisk({ seed: 1 }), undefined, clock);
  const ticks = { count: 0 };
  const tickCore = voter.host.node.tick.bind(voter.host.node);
  voter.host.node.tick = () => {
    ticks.count++;
    tickCore();
  };
  return { host: voter.host, ticks };
}

test("timers that each run 1 ms late still give the core one tick every 10 ms", async () => {
  const clock = new LateClock(1);
  const { host, ticks } = await countedVoter(clock);
  clock.runUntil(1_000 + 1);
  assert.equal(ticks.count, 1_000 / TICK_MS);
  clock.runUntil(2_000 + 1);
  assert.equal(ticks.count, 2_000 / TICK_MS);
  await host.stop();
});

test("a member stopped for a second is ticked once when it runs again, then every 10 ms", async () => {
  const clock = new LateClock(1);
  const { host, ticks } = await countedVoter(clock);
  clock.runUntil(100 + 1);
  assert.equal(ticks.count, 10);
  clock.stopFor(1_000);
  assert.equal(ticks.count, 11);
  clock.runUntil(1_201);
  assert.equal(ticks.count, 21);
  await host.stop();
});
