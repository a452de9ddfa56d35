/** Whether this member can serve: what /health, /readyz and the status errors say about it. */
import type { AlarmRegistry } from "../alarms.js";
import type { KvStateMachine } from "../kv/state-machine.js";
import type { RaftHost } from "../raft-host.js";
import type { StorageHealth } from "../storage-failure.js";
import type { Proposer } from "./proposer.js";

export interface HealthServiceOptions {
  readonly host: Pick<RaftHost, "status" | "leader">;
  readonly stateMachine: KvStateMachine;
  readonly proposer: Proposer;
  readonly alarms: AlarmRegistry;
  readonly storageHealth: Pick<StorageHealth, "reason">;
}

/** What status and /health say about a member that was removed from the cluster. */
export const REMOVED = { error: "the member has been permanently removed from the cluster", reason: "REMOVED FROM CLUSTER" } as const;
/** A member this far behind the commit index in applying is not ready. */
const READY_APPLY_LAG = 1000;

export class HealthService {
  constructor(private readonly options: HealthServiceOptions) {}

  /** Why this member cannot serve, or undefined when it can. */
  unhealthyReason(): string | undefined {
    const storageFailure = this.options.storageHealth.reason;
    if (storageFailure) return storageFailure;
    if (this.options.proposer.wasRemoved()) return REMOVED.reason;
    const alarm = this.options.alarms.list()[0];
    if (alarm) return `ALARM ${alarm.alarm}`;
    return this.options.host.leader === 0 ? "RAFT NO LEADER" : undefined;
  }

  /**
   * Whether a balancer should send this member traffic: healthy, or short
   * only of space (under NOSPACE it still serves reads, deletes, compaction
   * and defragmentation, as every member does), and caught up enough to serve
   * linearizable requests.
   */
  isReady(): boolean {
    const { storageHealth, proposer, alarms } = this.options;
    if (storageHealth.reason !== undefined || proposer.wasRemoved() || alarms.isActive("CORRUPT")) return false;
    const status = this.options.host.status();
    return status.lead !== 0 && this.options.stateMachine.appliedIndex >= status.hardState.commit - READY_APPLY_LAG;
  }
}
