/**
 * Reads a service's instances for DNS through the registry's own read path
 * (recipes/services.ts, as GET /v1/services/<name> does), choosing how by
 * staleness: from this member's state while it was in touch with a leader
 * within `maxStaleMs` (see LeaderContact), so DNS keeps answering on a
 * member cut off for a while; past that, with a linearizable read (a
 * ReadIndex round through the leader); with no leader, not at all.
 */
import type { KvApi } from "../kv/api.js";
import { listInstances, type Instance } from "../recipes/services.js";
import type { LeaderContact } from "./leader-contact.js";
import type { InstanceSource } from "./responder.js";

export interface StalenessBound {
  readonly maxStaleMs: number;
  /**
   * How long a read through the leader may take: resolvers retry after a
   * few seconds, so an answer later than that helps no one.
   */
  readonly leaderReadTimeoutMs: number;
}

export class NoFreshAnswer extends Error {}

export class RegistryReader implements InstanceSource {
  constructor(
    private readonly api: KvApi,
    private readonly contact: LeaderContact,
    private readonly bound: StalenessBound,
  ) {}

  async instances(service: string): Promise<readonly Instance[]> {
    if (this.contact.ageMs() <= this.bound.maxStaleMs) return (await listInstances(this.api, service, { serializable: true })).instances;
    if (!this.contact.hasLeader()) throw new NoFreshAnswer(`out of touch with a leader for more than ${this.bound.maxStaleMs} ms, and no leader now`);
    return (await withTimeout(listInstances(this.api, service), this.bound.leaderReadTimeoutMs)).instances;
  }
}

async function withTimeout<T>(work: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new NoFreshAnswer(`the leader did not answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}
