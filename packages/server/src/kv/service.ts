/**
 * The request path: writes become commands proposed through Raft and settle
 * when this member applies them; linearizable reads wait for a ReadIndex
 * barrier, serializable reads are served from local state at once.
 */
import { randomUUID } from "node:crypto";
import { MvccError, type AutoCompactor, type Request, type ResponseTo, type TxnOp, type TxnOpResponse } from "@raftkv/mvcc";
import { ConfChangeType, Role, type ConfChange, type Status } from "@raftkv/raft";
import type { Logger } from "pino";
import { describeAlarm, type AlarmMember, type AlarmRegistry } from "../alarms.js";
import { encodeCommand } from "../commands.js";
import { memberIdOf } from "../config.js";
import { RaftkvError, etcdError, isEtcdError } from "../errors.js";
import type { HealthSource } from "../http/health.js";
import { VERSION } from "../http/health.js";
import { encodeAttributes, type Member, type MemberRegistry } from "../members.js";
import type { PeerActivity } from "../peer-activity.js";
import type { ProposalTracker } from "../proposals.js";
import type { RaftHost } from "../raft-host.js";
import { leavesStartedQuorum } from "../reconfig-check.js";
import type { Snapshotter } from "../snapshots.js";
import type * as api from "./api.js";
import type { Command, KvStateMachine } from "./state-machine.js";
import { watchHistoryThenLive } from "./watcher.js";

export interface KvServiceOptions {
  readonly host: RaftHost;
  readonly stateMachine: KvStateMachine;
  readonly tracker: ProposalTracker;
  readonly registry: MemberRegistry;
  readonly alarms: AlarmRegistry;
  /** Which peers were heard from lately: the started members of the strict reconfiguration check. */
  readonly activity: PeerActivity;
  /** etcd's --strict-reconfig-check. */
  readonly strictReconfigCheck: boolean;
  readonly clusterId: number;
  readonly memberId: number;
  readonly clusterToken: string;
  readonly logger: Logger;
  readonly snapshots: Snapshotter;
  readonly autoCompactor?: AutoCompactor;
  /** UNSAFE test switch: linearizable reads skip the ReadIndex round. */
  readonly unsafeLocalReads?: boolean;
}

/** A learner may be promoted once it holds this share of the leader's log (etcd's rule). */
const LEARNER_READY_SHARE = 0.9;
/** How long a proposal the member makes on its own behalf waits before it is tried again. */
const RETRY_MS = 200;
/** What status and /health say about a member that was removed from the cluster. */
const REMOVED = { error: "the member has been permanently removed from the cluster", reason: "REMOVED FROM CLUSTER" } as const;

export class KvService implements api.KvApi, HealthSource {
  constructor(private readonly options: KvServiceOptions) {}

  private get host(): RaftHost {
    return this.options.host;
  }

  private get store() {
    return this.options.stateMachine.store;
  }

  header(revision = this.store.revision): api.ResponseHeader {
    return {
      clusterId: this.options.clusterId,
      memberId: this.options.memberId,
      revision,
      raftTerm: this.host.term,
    };
  }

  // ------------------------------------------------------------------ reads

  async range(request: api.RangeRequest): Promise<api.RangeResponse> {
    if (!request.serializable && !this.options.unsafeLocalReads) await this.host.readBarrier();
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
    const lease = this.store.lease(id);
    if (!lease) throw etcdError("leaseNotFound");
    const response = await this.write({ op: "leaseCheckpoint", checkpoints: [{ id, remainingTtl: lease.ttl }] });
    return { header: this.header(response.revision), id, ttl: lease.ttl };
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

  async leaseCheckpoint(checkpoints: readonly { id: number; remainingTtl: number }[]): Promise<void> {
    await this.write({ op: "leaseCheckpoint", checkpoints });
  }

  /** Runs on the leader: revokes expired leases, checkpoints the rest, compacts old history when due. */
  tickLeader(): void {
    if (!this.host.isLeader) return;
    this.options.stateMachine.leases.tick();
    const target = this.options.autoCompactor?.tick(Date.now(), this.store.revision, this.store.compactRevision);
    if (target !== undefined) {
      this.compact(target).catch((error: unknown) => this.options.logger.warn({ err: error, target }, "auto-compaction failed"));
    }
  }

  onLeaderChange(leader: number): void {
    if (leader === 0) return;
    if (leader === this.options.memberId) this.options.stateMachine.leases.resume(this.store.leases());
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
      header: (revision) => this.header(revision),
    });
  }

  // ------------------------------------------------------------ membership

  async memberList(): Promise<{ header: api.ResponseHeader; members: readonly api.MemberInfo[] }> {
    return { header: this.header(), members: this.options.registry.list() };
  }

  async memberAdd(peerUrls: readonly string[], isLearner: boolean) {
    const peerUrl = peerUrls[0];
    if (!peerUrl) throw etcdError("memberNotFound");
    const registry = this.options.registry;
    if (registry.list().some((member) => member.peerUrls.some((url) => peerUrls.includes(url)))) throw etcdError("peerUrlExists");
    const id = memberIdOf(peerUrl, this.options.clusterToken);
    const type = isLearner ? ConfChangeType.AddLearner : ConfChangeType.AddNode;
    const context = encodeAttributes({ name: "", peerUrls, clientUrls: [] });
    await this.changeMembership({ type, nodeId: id, context }, () => registry.get(id) !== undefined);
    const member = registry.get(id) as Member;
    return { header: this.header(), member, members: registry.list() };
  }

  async memberRemove(id: number) {
    const registry = this.options.registry;
    if (!registry.get(id)) throw etcdError("memberNotFound");
    await this.changeMembership({ type: ConfChangeType.RemoveNode, nodeId: id }, () => registry.get(id) === undefined);
    return { header: this.header(), members: registry.list() };
  }

  async memberPromote(id: number) {
    const registry = this.options.registry;
    const member = registry.get(id);
    if (!member) throw etcdError("memberNotFound");
    if (!member.isLearner) throw etcdError("memberNotLearner");
    await this.changeMembership({ type: ConfChangeType.PromoteLearner, nodeId: id }, () => registry.get(id)?.isLearner === false);
    return { header: this.header(), members: registry.list() };
  }

  async memberUpdate(id: number, peerUrls: readonly string[]) {
    const registry = this.options.registry;
    if (!registry.get(id)) throw etcdError("memberNotFound");
    await this.propose({ kind: "update-member", memberId: id, peerUrls });
    return { header: this.header(), members: registry.list() };
  }

  /**
   * Proposes a membership change and waits until it is applied here. Only
   * the leader decides (the HTTP layer forwards the request to it): it alone
   * knows how far each learner is and which members answer.
   */
  private async changeMembership(change: ConfChange, applied: () => boolean): Promise<void> {
    await this.whenLeaderKnown();
    const status = this.host.status();
    if (status.role !== Role.Leader) throw etcdError("notLeader");
    if (change.type === ConfChangeType.PromoteLearner) assertLearnerReady(status, change.nodeId);
    if (this.options.strictReconfigCheck && !leavesStartedQuorum(change, status.conf, (id) => this.isStarted(id))) {
      throw etcdError("notEnoughStartedMembers");
    }
    // Raft takes no change from a leader before it has committed an entry of its term; a read barrier waits for that.
    await this.host.readBarrier();
    const position = this.host.proposeConfChange(change);
    // The reply may lead to the next change at once, and Raft refuses one
    // until it has taken this one in, a moment after the registry shows it.
    const takenIn = (): boolean => position === undefined || this.host.node.appliedIndex >= position.index;
    await waitUntil(() => applied() && takenIn(), this.host.requestTimeoutMs);
  }

  /** A member is started if it is this one or the leader heard from it lately. */
  private isStarted(id: number): boolean {
    return id === this.options.memberId || this.options.activity.isActive(id);
  }

  /** Where to send what only the leader may decide, once a leader is known; undefined when this member leads. */
  async leaderClientUrl(): Promise<string | undefined> {
    await this.whenLeaderKnown();
    const leader = this.host.leader;
    if (leader === this.options.memberId) return undefined;
    return this.options.registry.get(leader)?.clientUrls[0];
  }

  // ----------------------------------------------------------- maintenance

  async status(): Promise<api.MemberStatus> {
    const raft = this.host.status();
    const store = await this.store.status();
    const self = this.options.registry.get(this.options.memberId);
    return {
      header: this.header(store.revision),
      version: VERSION.etcdserver,
      dbSize: store.dbSize,
      leader: raft.lead,
      raftIndex: raft.lastIndex,
      raftTerm: raft.hardState.term,
      raftAppliedIndex: store.appliedIndex,
      isLearner: self?.isLearner ?? false,
      errors: [...(this.wasRemoved() ? [REMOVED.error] : []), ...this.options.alarms.list().map(describeAlarm)],
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
    const changed = (await this.propose({ kind: "alarm", action, alarm })) as AlarmMember | undefined;
    return { header: this.header(), alarms: changed ? [changed] : [] };
  }

  /** Raises a CORRUPT alarm for each member not already marked, retrying until a leader takes it. */
  raiseCorruptAlarms(memberIds: readonly number[]): void {
    const marked = new Set(this.options.alarms.list("CORRUPT").map((alarm) => alarm.memberId));
    for (const memberId of memberIds.filter((id) => !marked.has(id))) {
      this.proposeUntilApplied({ kind: "alarm", action: "activate", alarm: { memberId, alarm: "CORRUPT" } });
    }
  }

  async snapshot() {
    const applied = this.store.appliedIndex;
    const file = await this.options.snapshots.backup(applied, this.host.status().conf);
    return { header: this.header(), ...file };
  }

  async moveLeader(target: number): Promise<{ header: api.ResponseHeader }> {
    const status = this.host.status();
    if (status.role !== Role.Leader) throw etcdError("notLeader");
    if (target === status.id) return { header: this.header() };
    if (!status.conf.voters.includes(target)) throw etcdError("badLeaderTransferee");
    this.host.transferLeadership(target);
    await waitUntil(() => this.host.leader === target, this.host.electionTimeoutMs * 2);
    return { header: this.header() };
  }

  /** The SIGTERM path: a leader hands over to the most caught-up voter before it stops. */
  async handOffLeadership(): Promise<void> {
    const status = this.host.status();
    // A removed leader is handing over already (see node.ts).
    if (status.role !== Role.Leader || this.wasRemoved()) return;
    const successor = [...status.progress]
      .filter(([id]) => id !== status.id && status.conf.voters.includes(id))
      .sort((a, b) => b[1].match - a[1].match)[0];
    if (!successor) return;
    try {
      await this.moveLeader(successor[0]);
      this.options.logger.info({ successor: successor[0] }, "handed leadership over before stopping");
    } catch (error) {
      this.options.logger.warn({ err: error }, "leadership hand-over did not finish; stopping anyway");
    }
  }

  /** Announces this member's name and client URLs through the log, once a leader exists. */
  publish(name: string, clientUrls: readonly string[]): void {
    this.proposeUntilApplied({ kind: "publish", memberId: this.options.memberId, name, clientUrls });
  }

  /** Proposes a command of the member's own until it is applied, or the member stops. */
  private proposeUntilApplied(command: Command): void {
    const attempt = (): void => {
      this.propose(command).catch((error: unknown) => {
        if (isEtcdError(error, "stopped")) return;
        setTimeout(attempt, RETRY_MS).unref();
      });
    };
    attempt();
  }

  // ---------------------------------------------------------------- health

  unhealthyReason(): string | undefined {
    if (this.wasRemoved()) return REMOVED.reason;
    const alarm = this.options.alarms.list()[0];
    if (alarm) return `ALARM ${alarm.alarm}`;
    return this.host.leader === 0 ? "RAFT NO LEADER" : undefined;
  }

  wasRemoved(): boolean {
    return this.options.registry.wasRemoved(this.options.memberId);
  }

  isReady(): boolean {
    const status = this.host.status();
    return status.lead !== 0 && this.store.appliedIndex >= status.hardState.commit - 1000;
  }

  // -------------------------------------------------------------- plumbing

  private async write<R extends Request>(request: R, options?: api.WriteOptions): Promise<ResponseTo<R>> {
    // As in etcd, a corrupt cluster takes no more writes until an operator clears the alarm; lease checkpoints carry on.
    if (this.options.alarms.isActive("CORRUPT") && request.op !== "leaseCheckpoint") throw etcdError("corrupt");
    return (await this.propose({ kind: "store", request }, options)) as ResponseTo<R>;
  }

  /**
   * Proposes one command and resolves with its result once this member
   * applied it. A retry under the client's request id is proposed again, even
   * while the first attempt is still waiting here (its proposal may have been
   * lost with a leader): the store applies whichever commits first and
   * answers the other with the same outcome.
   */
  private async propose(command: Command, options?: api.WriteOptions): Promise<unknown> {
    const requestId = randomUUID();
    const clientRequestId = options?.requestId;
    await this.whenLeaderKnown();
    const result = this.options.tracker.wait(requestId, this.host.leader);
    try {
      this.host.propose([encodeCommand(clientRequestId === undefined ? { requestId, command } : { requestId, clientRequestId, command })]);
    } catch (error) {
      this.options.tracker.reject(requestId, error as Error);
    }
    return result;
  }

  /** During an election, requests wait for its outcome (see leader-state.ts); a removed member has none to wait for. */
  private async whenLeaderKnown(): Promise<void> {
    if (this.wasRemoved()) throw etcdError("stopped");
    await this.host.whenLeaderKnown();
  }
}

/** etcd's rule: a learner may be promoted once it holds 90% of what the leader holds. */
function assertLearnerReady(status: Status, id: number): void {
  const learner = status.progress.get(id);
  const leader = status.progress.get(status.id);
  if (!learner || !leader || learner.match < leader.match * LEARNER_READY_SHARE) throw etcdError("learnerNotReady");
}

// ---------------------------------------------------------------- mapping

function toStoreTxn(request: api.TxnRequest) {
  return {
    compare: request.compare.map(({ operand, ...compare }) => ({ ...compare, ...compareOperand(compare.target, operand) })),
    success: request.success.map(toStoreOp),
    failure: request.failure.map(toStoreOp),
  };
}

function compareOperand(target: api.CompareTarget, operand: number | Uint8Array) {
  switch (target) {
    case "VALUE":
      return { value: operand as Uint8Array };
    case "VERSION":
      return { version: operand as number };
    case "CREATE":
      return { createRevision: operand as number };
    case "MOD":
      return { modRevision: operand as number };
    case "LEASE":
      return { lease: operand as number };
  }
}

function toStoreOp(op: api.RequestOp): TxnOp {
  if ("range" in op) return { op: "range", ...op.range };
  if ("put" in op) return { op: "put", ...op.put };
  if ("deleteRange" in op) return { op: "deleteRange", ...op.deleteRange };
  return { op: "txn", ...toStoreTxn(op.txn) };
}

function fromStoreTxn(response: Extract<TxnOpResponse, { op: "txn" }>, header: api.ResponseHeader): api.TxnResponse {
  return { header, succeeded: response.succeeded, responses: response.responses.map((each) => fromStoreOp(each, header)) };
}

function fromStoreOp(response: TxnOpResponse, header: api.ResponseHeader): api.ResponseOp {
  switch (response.op) {
    case "range":
      return { range: { header, kvs: response.kvs, more: response.more, count: response.count } };
    case "put":
      return { put: { header, ...(response.prevKv ? { prevKv: response.prevKv } : {}) } };
    case "deleteRange":
      return { deleteRange: { header, deleted: response.deleted, prevKvs: response.prevKvs } };
    case "txn":
      return { txn: fromStoreTxn(response, header) };
  }
}

/** Runs a store read, turning its rejections into etcd's errors. */
function storeCall<T>(read: () => T): T {
  try {
    return read();
  } catch (error) {
    throw asRaftkvError(error);
  }
}

async function storeCallAsync<T>(read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (error) {
    throw asRaftkvError(error);
  }
}

function asRaftkvError(error: unknown): unknown {
  return error instanceof MvccError ? new RaftkvError(error.grpcCode, error.message) : error;
}

async function waitUntil(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() >= deadline) throw etcdError("timeout");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
