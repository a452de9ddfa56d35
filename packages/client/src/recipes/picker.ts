/**
 * Client-side load balancing: pick one of a service's instances by round
 * robin, at random, by weight (`meta.weight`, smooth weighted round robin:
 * heavier instances are picked more often, never in long bursts), or the one
 * with the fewest requests in flight. A pick is released when its request
 * ends; only least-outstanding-requests cares, but every caller releases, so
 * strategies can be swapped without touching the calls.
 */
import { NoInstanceError } from "../errors.js";
import type { ServiceInstance } from "./service-registry.js";

export type PickStrategy = "round-robin" | "random" | "weighted" | "least-outstanding";

export interface Pick {
  readonly instance: ServiceInstance;
  /** The request to this instance ended. */
  release(): void;
}

export class ServicePicker {
  private turn = 0;
  private readonly inFlight = new Map<string, number>();
  /** Smooth weighted round robin's running scores, by instance id. */
  private readonly scores = new Map<string, number>();

  constructor(
    readonly service: string,
    readonly strategy: PickStrategy,
    private readonly instances: () => readonly ServiceInstance[],
    private readonly random: () => number = Math.random,
  ) {}

  pick(): Pick {
    const instances = this.instances();
    if (instances.length === 0) throw new NoInstanceError(this.service);
    const instance = this.choose(instances);
    this.inFlight.set(instance.id, this.outstanding(instance) + 1);
    let released = false;
    return {
      instance,
      release: () => {
        if (released) return;
        released = true;
        this.inFlight.set(instance.id, this.outstanding(instance) - 1);
      },
    };
  }

  /** Picks an instance, runs `request` against it, and releases the pick however the request ends. */
  async run<T>(request: (instance: ServiceInstance) => Promise<T>): Promise<T> {
    const picked = this.pick();
    try {
      return await request(picked.instance);
    } finally {
      picked.release();
    }
  }

  /** Requests in flight to `instance` through this picker. */
  outstanding(instance: ServiceInstance): number {
    return this.inFlight.get(instance.id) ?? 0;
  }

  private choose(instances: readonly ServiceInstance[]): ServiceInstance {
    switch (this.strategy) {
      case "round-robin":
        return instances[this.turn++ % instances.length] as ServiceInstance;
      case "random":
        return instances[Math.floor(this.random() * instances.length)] as ServiceInstance;
      case "weighted":
        return this.heaviest(instances);
      case "least-outstanding":
        return this.leastBusy(instances);
    }
  }

  /** Each instance gains its weight; the leader pays back the total: picks follow the weights, spread evenly. */
  private heaviest(instances: readonly ServiceInstance[]): ServiceInstance {
    let total = 0;
    let best = instances[0] as ServiceInstance;
    for (const instance of instances) {
      const weight = weightOf(instance);
      total += weight;
      this.scores.set(instance.id, (this.scores.get(instance.id) ?? 0) + weight);
      if ((this.scores.get(instance.id) as number) > (this.scores.get(best.id) as number)) best = instance;
    }
    this.scores.set(best.id, (this.scores.get(best.id) as number) - total);
    return best;
  }

  /** The instance with the fewest requests in flight; ties go round robin, so idle instances share the load. */
  private leastBusy(instances: readonly ServiceInstance[]): ServiceInstance {
    const start = this.turn++;
    let best = instances[start % instances.length] as ServiceInstance;
    for (let i = 1; i < instances.length; i++) {
      const candidate = instances[(start + i) % instances.length] as ServiceInstance;
      if (this.outstanding(candidate) < this.outstanding(best)) best = candidate;
    }
    return best;
  }
}

/** `meta.weight` when it is a positive number, else 1. */
export function weightOf(instance: ServiceInstance): number {
  const weight = instance.meta?.weight;
  return typeof weight === "number" && weight > 0 ? weight : 1;
}
