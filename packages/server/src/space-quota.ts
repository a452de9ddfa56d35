/**
 * etcd's space quota, and a free-disk reserve of our own. Once the store's
 * files pass --quota-backend-bytes, or a write would take them past it, this
 * member raises NOSPACE through the log; while any member's NOSPACE is
 * active, every member refuses the writes that grow the store (puts, txns
 * with a put, lease grants) with etcd's "database space exceeded", and
 * serves reads, deletes, compaction and defragmentation. `alarm disarm`
 * clears it; if the store is still over, the next check raises it again, as
 * etcd's next write does.
 *
 * The reserve (--wal-reserve-bytes) is ours: etcd has no such check. Below
 * that much free space on the data directory's filesystem NOSPACE is raised
 * the same way, so the WAL still has room for the alarm's own entry and for
 * deletes, rather than failing (and the member with it) when the disk is full.
 */
import { statfs } from "node:fs/promises";
import type { MvccStore, Request } from "@raftkv/mvcc";
import type { Logger } from "pino";
import type { AlarmRegistry } from "./alarms.js";
import { etcdError } from "./errors.js";
import type { Proposer } from "./services/proposer.js";

export interface SpaceQuotaOptions {
  readonly memberId: number;
  /** The quota in force (Infinity: none). */
  readonly quotaBytes: number;
  /** Free space to keep on the data directory's filesystem; 0: not checked. */
  readonly reserveBytes: number;
  readonly dataDir: string;
  /** The store's files, in bytes. */
  readonly storeSize: () => Promise<number>;
  readonly alarms: Pick<AlarmRegistry, "isActive" | "list">;
  /** Proposes this member's NOSPACE alarm; resolves once applied. */
  readonly raise: () => Promise<unknown>;
  readonly logger: Logger;
}

/** etcd's estimate of what a key adds to the store besides its key and value, and what a lease adds. */
const KEY_OVERHEAD_BYTES = 256;
const LEASE_OVERHEAD_BYTES = 64;
/** How often the sizes are measured (a write is judged by the last measure). */
const CHECK_INTERVAL_MS = 500;

export class SpaceQuota {
  private storeBytes = 0;
  private freeBytes = Infinity;
  private raising = false;
  /** Whether the last measure began while this member's NOSPACE was raised (see measureIsStale). */
  private measuredWhileRaised = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly options: SpaceQuotaOptions) {}

  /** Measures now and then every half second, raising NOSPACE when this member is short of space. */
  async start(): Promise<void> {
    await this.check();
    this.timer = setInterval(() => void this.check(), CHECK_INTERVAL_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Measures the store and the filesystem again, raising NOSPACE if short of space (after a defragmentation, say). */
  async check(): Promise<void> {
    if ((await this.measure()) && this.shortOfSpace(0)) await this.raise(0);
  }

  /** Measures the store and the filesystem; false when it could not. */
  private async measure(): Promise<boolean> {
    const whileRaised = this.ownAlarmRaised();
    try {
      this.storeBytes = await this.options.storeSize();
      this.freeBytes = this.options.reserveBytes > 0 ? await freeSpace(this.options.dataDir) : Infinity;
    } catch (error) {
      this.options.logger.warn({ err: error }, "could not measure the store or the disk for the space quota");
      return false;
    }
    this.measuredWhileRaised = whileRaised;
    return true;
  }

  /**
   * Refuses a write that would grow the store while NOSPACE is active, or
   * that would take it past the quota (raising NOSPACE then, as etcd does).
   */
  admit(request: Request): void {
    const cost = costOf(request);
    if (cost === 0) return;
    if (this.options.alarms.isActive("NOSPACE")) throw etcdError("noSpace");
    if (this.measureIsStale()) {
      void this.check();
      return;
    }
    if (!this.shortOfSpace(cost)) return;
    void this.raise(cost);
    throw etcdError("noSpace");
  }

  private shortOfSpace(cost: number): boolean {
    return this.storeBytes + cost > this.options.quotaBytes || this.freeBytes < this.options.reserveBytes;
  }

  /**
   * A measure begun while this member's NOSPACE was raised, which is gone
   * now, may predate the space an operator freed before disarming: it
   * neither refuses a write nor raises the alarm again; a new one is taken.
   */
  private measureIsStale(): boolean {
    return this.measuredWhileRaised && !this.ownAlarmRaised();
  }

  private ownAlarmRaised(): boolean {
    return this.options.alarms.list("NOSPACE").some((alarm) => alarm.memberId === this.options.memberId);
  }

  /**
   * Raises this member's NOSPACE if a measure taken now still finds it short
   * (of `cost` more): a measure from before an operator freed space and
   * disarmed, however it interleaved with the disarm, must not raise it again.
   */
  private async raise(cost: number): Promise<void> {
    if (this.raising || this.ownAlarmRaised() || this.measureIsStale()) return;
    this.raising = true;
    await this.raiseIfStillShort(cost).finally(() => {
      this.raising = false;
    });
  }

  private async raiseIfStillShort(cost: number): Promise<void> {
    if (!(await this.measure()) || !this.shortOfSpace(cost) || this.ownAlarmRaised()) return;
    const { logger } = this.options;
    logger.warn(
      { storeBytes: this.storeBytes, quotaBytes: this.options.quotaBytes, freeBytes: this.freeBytes, reserveBytes: this.options.reserveBytes },
      "out of space: raising the NOSPACE alarm; writes that grow the store are refused until it is disarmed",
    );
    await this.options.raise().catch((error: unknown) => logger.warn({ err: error }, "raising NOSPACE failed; the next check tries again"));
  }
}

export interface MemberSpace {
  readonly memberId: number;
  readonly dataDir: string;
  readonly store: Pick<MvccStore, "status">;
  readonly alarms: SpaceQuotaOptions["alarms"];
  readonly proposer: Pick<Proposer, "propose">;
  readonly logger: Logger;
}

/** A member's quota: its store's files measured, its own NOSPACE raised through the log. */
export function memberSpaceQuota(member: MemberSpace, limits: Pick<SpaceQuotaOptions, "quotaBytes" | "reserveBytes">): SpaceQuota {
  const { memberId, dataDir, store, alarms, proposer, logger } = member;
  return new SpaceQuota({
    ...limits,
    memberId,
    dataDir,
    storeSize: async () => (await store.status()).dbSize,
    alarms,
    raise: () => proposer.propose({ kind: "alarm", action: "activate", alarm: { memberId, alarm: "NOSPACE" } }),
    logger,
  });
}

/**
 * What a write adds to the store, as etcd estimates it; 0 for a write that
 * does not grow it (a delete, a compaction, a revocation, a checkpoint). A
 * txn costs its dearer branch.
 */
export function costOf(request: Request): number {
  switch (request.op) {
    case "put":
      return KEY_OVERHEAD_BYTES + request.key.byteLength + (request.value?.byteLength ?? 0);
    case "txn": {
      const branchCost = (ops: readonly Request[] = []) => ops.reduce((total, op) => total + costOf(op), 0);
      return Math.max(branchCost(request.success), branchCost(request.failure));
    }
    case "leaseGrant":
      return LEASE_OVERHEAD_BYTES;
    default:
      return 0;
  }
}

async function freeSpace(dir: string): Promise<number> {
  const stats = await statfs(dir);
  return stats.bavail * stats.bsize;
}
