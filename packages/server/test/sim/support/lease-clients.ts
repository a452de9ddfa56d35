/**
 * Clients that hold leases through the faults, as lock and election holders
 * do: each grants a lease, keeps it alive for a while, then lets it go and
 * starts over. They are judged by what such a holder relies on: a lease is
 * never revoked sooner than its TTL after a renewal the cluster acknowledged
 * was sent (its grant or a keep-alive), and a lease let go of ends.
 *
 * A store is a witness of a revocation only at or past the applied index at
 * which it was seen holding the lease: a member restarted on a store behind
 * its log (LevelDB is written behind the applies) applies the log again from
 * there and, until it reaches the grant once more, lacks the lease without
 * anything having revoked it.
 */
import type { MvccStore } from "@raftkv/mvcc";
import type { NodeId, SeededRng } from "@raftkv/raft";
import { isEtcdError } from "../../../src/errors.js";
import type { SimMember } from "./member.js";
import type { Scheduler } from "./scheduler.js";

export interface LeaseWorld {
  readonly scheduler: Scheduler;
  /** A member the clients' seed picks, or undefined when that one is down (the connection is refused). */
  pickMember(): SimMember | undefined;
  /** Whether clients still start new calls. */
  running(): boolean;
}

interface HeldLease {
  readonly id: number;
  readonly ttlMs: number;
  /** When the newest renewal the cluster acknowledged was sent. */
  renewedAt: number;
}

/** What the store grants at the least is 2 s. */
const TTL_SECONDS = [2, 3] as const;
/**
 * Shorter than any TTL, so a renewal acknowledged at all was sent less than
 * a TTL before its answer: a lease revoked before the answer came was
 * revoked too soon.
 */
const ANSWER_WITHIN_MS = 1_000;
const MOST_RENEWALS = 6;
const OWNER = "lease client";

export class LeaseClients {
  private readonly held = new Map<number, HeldLease>();
  /** Lease id → when a member's store first lost it. */
  private readonly revokedAt = new Map<number, number>();
  /** Lease id → the members whose store has held it, each with the applied index at which it first did. */
  private readonly heldBy = new Map<number, Map<NodeId, number>>();
  private readonly found: string[] = [];
  /** Leases already found revoked too soon: one finding each. */
  private readonly reported = new Set<number>();
  /** Every client call's outcome in order, for the run's digest. */
  private readonly outcomes: string[] = [];
  private inFlight = 0;

  constructor(
    private readonly world: LeaseWorld,
    private readonly rng: SeededRng,
  ) {}

  start(clients: number): void {
    for (let client = 0; client < clients; client++) void this.live();
  }

  /** Whether a call is still out. */
  get busy(): boolean {
    return this.inFlight > 0;
  }

  get violations(): readonly string[] {
    return this.found;
  }

  get history(): readonly string[] {
    return this.outcomes;
  }

  /**
   * Told after every batch a member applies: a lease ends when a store that
   * held it first no longer does at an index at or past the one it held it at.
   */
  noteApplied(member: NodeId, store: Pick<MvccStore, "lease" | "appliedIndex">): void {
    for (const id of this.held.keys()) {
      const holders = this.heldBy.get(id) ?? new Map<NodeId, number>();
      this.heldBy.set(id, holders);
      const heldAt = holders.get(member);
      if (store.lease(id) !== undefined) {
        if (heldAt === undefined) holders.set(member, store.appliedIndex);
      } else if (heldAt !== undefined && store.appliedIndex >= heldAt && !this.revokedAt.has(id)) {
        this.revokedAt.set(id, this.world.scheduler.now);
        this.checkRevocation(id);
      }
    }
  }

  /** Leases let go of and not yet revoked by any member. */
  get unrevoked(): readonly number[] {
    return [...this.held.keys()].filter((id) => !this.revokedAt.has(id));
  }

  private async live(): Promise<void> {
    await this.pause(this.rng.nextInt(200));
    while (this.world.running()) {
      const lease = await this.grant();
      if (lease === undefined) {
        await this.pause(100);
        continue;
      }
      const renewals = this.rng.nextInt(MOST_RENEWALS + 1);
      for (let i = 0; i < renewals && this.world.running(); i++) {
        await this.pause(lease.ttlMs / 4 + this.rng.nextInt(lease.ttlMs / 4));
        if ((await this.keepAlive(lease)) === "gone") break;
      }
    }
  }

  private async grant(): Promise<HeldLease | undefined> {
    const ttl = TTL_SECONDS[this.rng.nextInt(TTL_SECONDS.length)] as number;
    const sentAt = this.world.scheduler.now;
    const answer = await this.call((member) => member.kv.leaseGrant(ttl, 0));
    if (typeof answer === "string") return undefined;
    const lease: HeldLease = { id: answer.id, ttlMs: answer.ttl * 1000, renewedAt: sentAt };
    this.held.set(lease.id, lease);
    this.checkRevocation(lease.id);
    return lease;
  }

  /** One keep-alive; "gone" when the cluster says the lease is no more. */
  private async keepAlive(lease: HeldLease): Promise<"renewed" | "gone" | "in doubt"> {
    const sentAt = this.world.scheduler.now;
    const answer = await this.call((member) => member.kv.leaseKeepAlive(lease.id));
    if (answer === "not found") return "gone";
    if (typeof answer === "string") return "in doubt";
    lease.renewedAt = Math.max(lease.renewedAt, sentAt);
    this.checkRevocation(lease.id);
    return "renewed";
  }

  /** A revocation applied sooner than the TTL after an acknowledged renewal was sent is a finding. */
  private checkRevocation(id: number): void {
    const lease = this.held.get(id);
    const revokedAt = this.revokedAt.get(id);
    if (lease === undefined || revokedAt === undefined || revokedAt >= lease.renewedAt + lease.ttlMs || this.reported.has(id)) return;
    this.reported.add(id);
    this.found.push(`lease ${id} was revoked at ${revokedAt} ms, sooner than its TTL (${lease.ttlMs} ms) after the renewal sent at ${lease.renewedAt} ms`);
  }

  /** The answer, or what became of the call: refused (member down), not found, or failed (an error or no answer in time). */
  private async call<T>(send: (member: SimMember) => Promise<T>): Promise<T | "refused" | "not found" | "failed"> {
    const member = this.world.pickMember();
    if (member === undefined) return this.noted("refused");
    this.inFlight++;
    const outcome = await this.world.scheduler.within(OWNER, ANSWER_WITHIN_MS, "failed" as const, () =>
      send(member).catch((error: unknown) => (isEtcdError(error, "leaseNotFound") ? ("not found" as const) : ("failed" as const))),
    );
    this.inFlight--;
    return this.noted(outcome);
  }

  private noted<T>(outcome: T): T {
    this.outcomes.push(`${this.world.scheduler.now}:${typeof outcome === "string" ? outcome : JSON.stringify(outcome)}`);
    return outcome;
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => this.world.scheduler.after(OWNER, ms, resolve));
  }
}
