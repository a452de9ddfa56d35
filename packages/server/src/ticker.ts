/**
 * The Raft ticker: a call every period on average, as Go's time.Ticker gives
 * etcd. Node re-arms an interval from when its callback ran, so each tick
 * comes a little late and the lateness adds up: 100 ticks of 10 ms took 1.03 s
 * with the event loop idle and 1.11 s with it busy (on a loaded 2-core
 * machine), and election timeouts stretched with them. Here each tick is due one period after the one
 * before was due. A tick later than the next one's due time drops those it
 * missed rather than running them at once, as Go's ticker does: a member that
 * was stopped or stalled reads its peers' messages before it counts an
 * election timeout as passed.
 */
import type { Clock, Timer } from "./clock.js";

export class Ticker {
  private due = 0;
  private timer: Timer | undefined;

  constructor(
    private readonly clock: Clock,
    private readonly periodMs: number,
    private readonly tick: () => void,
  ) {}

  start(): void {
    this.due = this.clock.now() + this.periodMs;
    this.arm();
  }

  stop(): void {
    if (this.timer) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private arm(): void {
    this.timer = this.clock.setTimeout(() => this.fire(), Math.max(0, this.due - this.clock.now()));
  }

  private fire(): void {
    const missed = Math.max(0, Math.floor((this.clock.now() - this.due) / this.periodMs));
    this.due += (missed + 1) * this.periodMs;
    this.arm();
    this.tick();
  }
}
