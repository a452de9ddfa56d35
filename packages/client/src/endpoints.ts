/**
 * Which member to ask: the client sticks to one member while it answers
 * (its connection stays warm, and its reads see its own writes in order),
 * and moves on when it fails. A failed member rests for a growing while
 * before it is preferred again; until then it is tried only after every
 * member that has not failed. Pure bookkeeping: the clock is passed in.
 */

const REST_BASE_MS = 250;
const REST_MAX_MS = 5_000;

interface EndpointState {
  readonly url: string;
  /** Until then, the member is asked only after the healthy ones. */
  restUntil: number;
  consecutiveFailures: number;
}

export class EndpointPool {
  private readonly states: EndpointState[];
  private pinned = 0;

  constructor(urls: readonly string[]) {
    if (urls.length === 0) throw new Error("a raftkv client needs at least one endpoint");
    this.states = urls.map((url) => ({ url: normalizeUrl(url), restUntil: 0, consecutiveFailures: 0 }));
  }

  get urls(): string[] {
    return this.states.map((state) => state.url);
  }

  /** The order to try members in now: healthy ones from the pinned one on, then resting ones, soonest-rested first. */
  order(now: number): string[] {
    const rotated = [...this.states.slice(this.pinned), ...this.states.slice(0, this.pinned)];
    const healthy = rotated.filter((state) => state.restUntil <= now);
    const resting = rotated.filter((state) => state.restUntil > now).sort((a, b) => a.restUntil - b.restUntil);
    return [...healthy, ...resting].map((state) => state.url);
  }

  succeeded(url: string): void {
    const index = this.indexOf(url);
    const state = this.states[index];
    if (!state) return;
    state.restUntil = 0;
    state.consecutiveFailures = 0;
    this.pinned = index;
  }

  failed(url: string, now: number): void {
    const state = this.states[this.indexOf(url)];
    if (!state) return;
    state.consecutiveFailures++;
    state.restUntil = now + Math.min(REST_BASE_MS * 2 ** (state.consecutiveFailures - 1), REST_MAX_MS);
  }

  private indexOf(url: string): number {
    return this.states.findIndex((state) => state.url === url);
  }
}

/** `http://host:port` without a trailing slash, so that paths can be appended. */
export function normalizeUrl(url: string): string {
  const parsed = new URL(url.includes("://") ? url : `http://${url}`);
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") throw new Error(`endpoint ${url}: only http and https are supported`);
  return parsed.origin;
}
