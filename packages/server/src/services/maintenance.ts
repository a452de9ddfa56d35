/**
 * Maintenance: status, HashKV, alarms and the corruption check's CORRUPT
 * alarms, backups, and handing leadership over (on request, or before a
 * graceful stop).
 */
import { NONE, Role, mostCaughtUp } from "@raftkv/raft";
import type { Logger } from "pino";
import { describeAlarm, type AlarmMember, type AlarmRegistry } from "../alarms.js";
import { etcdError } from "../errors.js";
import type * as api from "../kv/api.js";
import type { KvStateMachine } from "../kv/state-machine.js";
import { storeCallAsync } from "../kv/store-mapping.js";
import type { MemberRegistry } from "../members.js";
import type { RaftHost } from "../raft-host.js";
import type { Snapshotter } from "../snapshots.js";
import type { SpaceQuota } from "../space-quota.js";
import { VERSION } from "../version.js";
import { REMOVED } from "./health.js";
import type { Proposer } from "./proposer.js";

export interface MaintenanceServiceOptions {
  readonly host: Pick<RaftHost, "status" | "readBarrier" | "transferLeadership" | "leader" | "electionTimeoutMs" | "until" | "atApplyBoundary">;
  readonly stateMachine: KvStateMachine;
  readonly proposer: Proposer;
  readonly registry: MemberRegistry;
  readonly alarms: AlarmRegistry;
  readonly snapshots: Pick<Snapshotter, "backup">;
  readonly logger: Logger;
  /** Measured again after a defragmentation, so the quota sees the space given back. */
  readonly quota: Pick<SpaceQuota, "check">;
  /** Why this member's storage failed, if it did: status lists it with the alarms. */
  readonly storageFailure: () => string | undefined;
}

export class MaintenanceService implements api.MaintenanceApi {
  constructor(private readonly options: MaintenanceServiceOptions) {}

  private get host(): MaintenanceServiceOptions["host"] {
    return this.options.host;
  }

  private get store() {
    return this.options.stateMachine.store;
  }

  private header(revision?: number): api.ResponseHeader {
    return this.options.proposer.header(revision);
  }

  async status(): Promise<api.StatusResponse> {
    const raft = this.host.status();
    const store = await this.store.status();
    const self = this.options.registry.get(this.options.proposer.memberId);
    const storageFailure = this.options.storageFailure();
    return {
      header: this.header(store.revision),
      version: VERSION.etcdserver,
      dbSize: store.dbSize,
      dbSizeInUse: store.dbSize,
      leader: raft.lead,
      raftIndex: raft.lastIndex,
      raftTerm: raft.hardState.term,
      raftAppliedIndex: store.appliedIndex,
      isLearner: self?.isLearner ?? false,
      errors: [
        ...(this.options.proposer.wasRemoved() ? [REMOVED.error] : []),
        ...(storageFailure ? [storageFailure] : []),
        ...this.options.alarms.list().map(describeAlarm),
      ],
    };
  }

  /**
   * A revision this member has applied hashes the same whenever it is asked
   * (the corruption check relies on that, even without a leader); a newer
   * one, or 0 for the latest, waits for a read barrier first.
   */
  async hashKv(revision: number) {
    if (revision === 0 || revision > this.store.revision) await this.host.readBarrier();
    const result = await storeCallAsync(() => this.store.hash(revision));
    return { header: this.header(result.revision), hash: result.hash, compactRevision: result.compactRevision };
  }

  /** etcd's Alarm: GET reads the alarms; ACTIVATE and DEACTIVATE go through the log. */
  async alarm(request: api.AlarmRequest): Promise<api.AlarmResponse> {
    const alarms = this.options.alarms;
    if (request.action === "GET") {
      await this.host.readBarrier();
      return { header: this.header(), alarms: alarms.list(request.alarm === "NONE" ? undefined : request.alarm) };
    }
    if (request.alarm === "NONE") return { header: this.header(), alarms: [] };
    const alarm = { memberId: request.memberId, alarm: request.alarm };
    const action = request.action === "ACTIVATE" ? "activate" : "deactivate";
    const changed = (await this.options.proposer.propose({ kind: "alarm", action, alarm })) as AlarmMember | undefined;
    return { header: this.header(), alarms: changed ? [changed] : [] };
  }

  /** Rewrites the store's files without their dead entries (LevelDB compaction); the member serves meanwhile. */
  async defragment(): Promise<{ header: api.ResponseHeader }> {
    const started = performance.now();
    const before = (await this.store.status()).dbSize;
    await storeCallAsync(() => this.store.defragment());
    const after = (await this.store.status()).dbSize;
    this.options.logger.info({ before, after, ms: Math.round(performance.now() - started) }, "defragmented the store");
    await this.options.quota.check();
    return { header: this.header() };
  }

  /** Raises a CORRUPT alarm for each member not already marked, retrying until a leader takes it. */
  raiseCorruptAlarms(memberIds: readonly number[]): void {
    const marked = new Set(this.options.alarms.list("CORRUPT").map((alarm) => alarm.memberId));
    for (const memberId of memberIds.filter((id) => !marked.has(id))) {
      this.options.proposer.proposeUntilApplied({ kind: "alarm", action: "activate", alarm: { memberId, alarm: "CORRUPT" } });
    }
  }

  async snapshot() {
    const file = await this.options.snapshots.backup((capture) => this.host.atApplyBoundary(capture));
    return { header: this.header(), ...file };
  }

  async moveLeader(target: number): Promise<{ header: api.ResponseHeader }> {
    const status = this.host.status();
    if (status.role !== Role.Leader) throw etcdError("notLeader");
    if (target === status.id) return { header: this.header() };
    if (!status.conf.voters.includes(target)) throw etcdError("badLeaderTransferee");
    this.host.transferLeadership(target);
    await this.host.until(() => this.host.leader === target, this.host.electionTimeoutMs * 2);
    return { header: this.header() };
  }

  /** The SIGTERM path: a leader hands over to the most caught-up voter before it stops. */
  async handOffLeadership(): Promise<void> {
    const status = this.host.status();
    // A removed leader is handing over already (see node.ts).
    if (status.role !== Role.Leader || this.options.proposer.wasRemoved()) return;
    const others = status.conf.voters.filter((id) => id !== status.id);
    const successor = mostCaughtUp(others, (id) => status.progress.get(id)?.match);
    if (successor === NONE) return;
    try {
      await this.moveLeader(successor);
      this.options.logger.info({ successor }, "handed leadership over before stopping");
    } catch (error) {
      this.options.logger.warn({ err: error }, "leadership hand-over did not finish; stopping anyway");
    }
  }
}
