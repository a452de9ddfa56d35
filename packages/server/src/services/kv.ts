/**
 * Keys, leases and watches: writes become commands proposed through Raft and
 * settle when this member applies them; linearizable reads wait for a
 * ReadIndex barrier, serializable reads are served from local state at the
 * end of the event-loop turn they arrived in.
 */
import type { AutoCompactor, Request, ResponseTo } from "@raftkv/mvcc";
import type { Logger } from "pino";
import type { AlarmRegistry } from "../alarms.js";
import { etcdError } from "../errors.js";
import type * as api from "../kv/api.js";
import type { LeaseProposer } from "../kv/lease-keeper.js";
import type { KvStateMachine } from "../kv/state-machine.js";
import { fromStoreTxn, storeCall, toStoreTxn } from "../kv/store-mapping.js";
import { watchHistoryThenLive } from "../kv/watcher.js";
import type { ProposalTracker } from "../proposals.js";
import type { RaftHost } from "../raft-host.js";
import type { SpaceQuota } from "../space-quota.js";
import type { Proposer } from "./proposer.js";

export interface KvServiceOptions {
  readonly host: Pick<RaftHost, "readBarrier" | "isLeader" | "leader" | "term">;
  readonly stateMachine: KvStateMachine;
  readonly tracker: ProposalTracker;
  readonly proposer: Proposer;
  readonly alarms: AlarmRegistry;
  /** Refuses writes that would grow the store past its quota, or while NOSPACE is active. */
  readonly quota: Pick<SpaceQuota, "admit">;
  readonly logger: Logger;
  readonly autoCompactor?: AutoCompactor;
  /** UNSAFE test switch: linearizable reads skip the ReadIndex round. */
  readonly unsafeLocalReads?: boolean;
}

/**
 * The state machine's lease keeper proposes through the KV service, which is
 * made after the state machine: until `service()` gives one, there is no
 * leader work to propose.
 */
export function leaseProposerThrough(service: () => KvService | undefined): LeaseProposer {
  return {
    revoke: async (id, asOf) => service()?.leaseExpire(id, asOf),
    checkpoint: async (checkpoints, asOf) => service()?.leaseCheckpoint(checkpoints, asOf),
  };
}

export class KvService implements api.KvApi {
  /** The last header a watch's events carried: a put to a key with a thousand watches makes a thousand responses with this one. */
  private lastWatchHeader: api.ResponseHeader | undefined;

  constructor(private readonly options: KvServiceOptions) {}

  /** Settles once this event-loop turn's I/O has been read: the serializable reads that arrived in it are served then, together. */
  private endOfTurn: Promise<void> | undefined;

  private get host(): KvServiceOptions["host"] {
    return this.options.host;
  }

  private get store() {
    return this.options.stateMachine.store;
  }

  /**
   * Answering each serializable read as its request is parsed interleaves
   * reads and replies, so every reply wakes its waiting client apart; replies
   * that leave together after the turn's reads wake it once (a leader under
   * 64 connections spent about half the CPU per read this way, see
   * bench/README.md). Linearizable reads are already answered together, when
   * their ReadIndex round completes.
   */
  private afterThisTurnsReads(): Promise<void> {
    this.endOfTurn ??= new Promise((resolve) =>
      setImmediate(() => {
        this.endOfTurn = undefined;
        resolve();
      }),
    );
    return this.endOfTurn;
  }

  header(revision?: number): api.ResponseHeader {
    return this.options.proposer.header(revision);
  }

  // ------------------------------------------------------------------ reads

  async range(request: api.RangeRequest): Promise<api.RangeResponse> {
    if (request.serializable) await this.afterThisTurnsReads();
    else if (!this.options.unsafeLocalReads) await this.host.readBarrier();
    const response = storeCall(() => this.store.range(request));
    return { header: this.header(response.revision), kvs: response.kvs, more: response.more, count: response.count };
  }

  // ----------------------------------------------------------------- writes

  async put(request: api.PutRequest, options?: api.WriteOptions): Promise<api.PutResponse> {
    const response = await this.write({ op: "put", ...request }, options);
    return { header: this.header(response.revision), ...(response.prevKv ? { prevKv: response.prevKv } : {}) };
  }

  async deleteRange(request: api.DeleteRangeRequest, options?: api.WriteOptions): Promise<api.DeleteRangeResponse> {
    const response = await this.write({ op: "deleteRange", ...request }, options);
    return { header: this.header(response.revision), deleted: response.deleted, prevKvs: response.prevKvs };
  }

  async txn(request: api.TxnRequest, options?: api.WriteOptions): Promise<api.TxnResponse> {
    const response = await this.write({ op: "txn", ...toStoreTxn(request) }, options);
    return fromStoreTxn(response, this.header(response.revision));
  }

  async compact(revision: number, options?: api.WriteOptions): Promise<{ header: api.ResponseHeader }> {
    const response = await this.write({ op: "compact", revision }, options);
    return { header: this.header(response.revision) };
  }

  // ----------------------------------------------------------------- leases

  async leaseGrant(ttl: number, id: number, options?: api.WriteOptions): Promise<api.LeaseGrantResponse> {
    const response = await this.write({ op: "leaseGrant", ttl, id }, options);
    return { header: this.header(response.revision), id: response.id, ttl: response.ttl };
  }

  async leaseRevoke(id: number, options?: api.WriteOptions): Promise<{ header: api.ResponseHeader }> {
    const response = await this.write({ op: "leaseRevoke", id }, options);
    return { header: this.header(response.revision) };
  }

  /** A renewal is a checkpoint back to the full TTL, through the log, so every member agrees. */
  async leaseKeepAlive(id: number): Promise<api.LeaseGrantResponse> {
    // A lease this member knows is gone costs no Raft round; one revoked meanwhile is refused where the renewal applies.
    if (!this.store.lease(id)) throw etcdError("leaseNotFound");
    const response = await this.write({ op: "leaseRenew", id });
    return { header: this.header(response.revision), id, ttl: response.ttl };
  }

  async leaseTimeToLive(id: number, keys: boolean): Promise<api.LeaseTimeToLiveResponse> {
    await this.host.readBarrier();
    const lease = this.store.lease(id);
    if (!lease) return { header: this.header(), id, ttl: -1, grantedTtl: 0, keys: [] };
    const remaining = this.options.stateMachine.leases.remaining(id);
    return { header: this.header(), id, ttl: remaining, grantedTtl: lease.ttl, keys: keys ? lease.keys : [] };
  }

  async leaseLeases(): Promise<{ header: api.ResponseHeader; leases: readonly number[] }> {
    await this.host.readBarrier();
    return { header: this.header(), leases: this.store.leases().map((lease) => lease.id) };
  }

  /** The leader's lease keeper: revokes a lease it found expired with the leases as of raft index `asOf`. */
  async leaseExpire(id: number, asOf: number): Promise<void> {
    await this.write({ op: "leaseRevoke", id, asOf });
  }

  /** The leader's lease keeper: records each lease's remaining time as of raft index `asOf`. */
  async leaseCheckpoint(checkpoints: readonly { id: number; remainingTtl: number }[], asOf: number): Promise<void> {
    await this.write({ op: "leaseCheckpoint", checkpoints, asOf });
  }

  /** Runs on the leader at `now` (ms, the member's clock): revokes expired leases, checkpoints the rest, compacts old history when due. */
  tickLeader(now: number): void {
    if (!this.host.isLeader) return;
    this.options.stateMachine.leases.tick();
    const target = this.options.autoCompactor?.tick(now, this.store.revision, this.store.compactRevision);
    if (target !== undefined) {
      this.compact(target).catch((error: unknown) => this.options.logger.warn({ err: error, target }, "auto-compaction failed"));
    }
  }

  onLeaderChange(leader: number): void {
    if (leader === 0) return;
    if (leader === this.options.proposer.memberId) this.options.stateMachine.leases.resume(this.store.leases(), this.store.appliedIndex);
    // Past a read barrier the new leader has committed an entry of its term and this member applied it:
    // every write an earlier leader passed on has been applied by then; the rest were dropped with it.
    this.host.readBarrier().then(
      () => {
        if (this.host.leader === leader) this.options.tracker.rejectProposedElsewhere(leader, etcdError("leaderChanged"));
      },
      // Without the barrier, the next leader change settles them, or their timeout does.
      () => undefined,
    );
  }

  // ------------------------------------------------------------------ watch

  async watch(request: api.WatchRequest, deliver: (update: api.WatchUpdate) => void): Promise<api.Watch> {
    return watchHistoryThenLive({
      request,
      deliver,
      hub: this.options.stateMachine.watchHub,
      history: (from) => this.store.eventsSince(from, { key: request.key, rangeEnd: request.rangeEnd }),
      currentRevision: () => this.store.revision,
      header: (revision) => this.watchHeader(revision),
    });
  }

  watchProgressHeader(): api.ResponseHeader {
    this.options.stateMachine.watchHub.deliverPending();
    return this.header();
  }

  private watchHeader(revision: number): api.ResponseHeader {
    const last = this.lastWatchHeader;
    if (last !== undefined && last.revision === revision && last.raftTerm === this.host.term) return last;
    this.lastWatchHeader = this.header(revision);
    return this.lastWatchHeader;
  }

  private async write<R extends Request>(request: R, options?: api.WriteOptions): Promise<ResponseTo<R>> {
    // The store's own rules, before proposing: what apply would refuse costs no Raft round, whichever front end sent it.
    storeCall(() => this.store.validate(request));
    // As in etcd, a corrupt cluster takes no more writes until an operator clears the alarm; keep-alives and lease checkpoints carry on.
    if (this.options.alarms.isActive("CORRUPT") && request.op !== "leaseCheckpoint" && request.op !== "leaseRenew") throw etcdError("corrupt");
    this.options.quota.admit(request);
    return (await this.options.proposer.propose({ kind: "store", request }, options)) as ResponseTo<R>;
  }
}
