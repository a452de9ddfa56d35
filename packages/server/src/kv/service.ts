/**
 * The request path: writes become commands proposed through Raft and settle
 * when this member applies them; linearizable reads wait for a ReadIndex
 * barrier, serializable reads are served from local state at once.
 */
import { randomUUID } from "node:crypto";
import { MvccError, type AutoCompactor, type Request, type ResponseTo, type TxnOp, type TxnOpResponse } from "@raftkv/mvcc";
import { ConfChangeType, Role } from "@raftkv/raft";
import type { Logger } from "pino";
import { encodeCommand } from "../commands.js";
import { memberIdOf } from "../config.js";
import { RaftkvError, etcdError } from "../errors.js";
import type { HealthSource } from "../http/health.js";
import { VERSION } from "../http/health.js";
import { encodeAttributes, type Member, type MemberRegistry } from "../members.js";
import type { ProposalTracker } from "../proposals.js";
import type { RaftHost } from "../raft-host.js";
import type { Snapshotter } from "../snapshots.js";
import type * as api from "./api.js";
import type { Command, KvStateMachine } from "./state-machine.js";
import { watchHistoryThenLive } from "./watcher.js";

export interface KvServiceOptions {
  readonly host: RaftHost;
  readonly stateMachine: KvStateMachine;
  readonly tracker: ProposalTracker;
  readonly registry: MemberRegistry;
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
const LEADER_WAIT_MS = 5_000;

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

  onLeadership(): void {
    this.options.stateMachine.leases.resume(this.store.leases());
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
    await this.changeMembership({ type, nodeId: id, context: encodeAttributes({ name: "", peerUrls, clientUrls: [] }) }, () =>
      registry.get(id) !== undefined,
    );
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
    this.assertLearnerReady(id);
    await this.changeMembership({ type: ConfChangeType.PromoteLearner, nodeId: id }, () => registry.get(id)?.isLearner === false);
    return { header: this.header(), members: registry.list() };
  }

  async memberUpdate(id: number, peerUrls: readonly string[]) {
    const registry = this.options.registry;
    if (!registry.get(id)) throw etcdError("memberNotFound");
    await this.propose({ kind: "update-member", memberId: id, peerUrls });
    return { header: this.header(), members: registry.list() };
  }

  private assertLearnerReady(id: number): void {
    const status = this.host.status();
    if (status.role !== Role.Leader) throw etcdError("notLeader");
    const learner = status.progress.get(id);
    const leader = status.progress.get(status.id);
    if (!learner || !leader || learner.match < leader.match * LEARNER_READY_SHARE) throw etcdError("learnerNotReady");
  }

  private async changeMembership(change: Parameters<RaftHost["proposeConfChange"]>[0], applied: () => boolean): Promise<void> {
    await this.whenLeaderKnown();
    this.host.proposeConfChange(change);
    await waitUntil(applied, this.host.requestTimeoutMs);
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
      errors: [],
    };
  }

  async hashKv(revision: number) {
    await this.host.readBarrier();
    const result = await storeCallAsync(() => this.store.hash(revision));
    return { header: this.header(result.revision), hash: result.hash, compactRevision: result.compactRevision };
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
    if (status.role !== Role.Leader) return;
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
    const attempt = (): void => {
      this.propose({ kind: "publish", memberId: this.options.memberId, name, clientUrls }).catch(() => {
        setTimeout(attempt, 200).unref();
      });
    };
    attempt();
  }

  // ---------------------------------------------------------------- health

  unhealthyReason(): string | undefined {
    return this.host.leader === 0 ? "RAFT NO LEADER" : undefined;
  }

  isReady(): boolean {
    const status = this.host.status();
    return status.lead !== 0 && this.store.appliedIndex >= status.hardState.commit - 1000;
  }

  // -------------------------------------------------------------- plumbing

  private async write<R extends Request>(request: R, options?: api.WriteOptions): Promise<ResponseTo<R>> {
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
    const result = this.options.tracker.wait(requestId);
    try {
      this.host.propose([encodeCommand(clientRequestId === undefined ? { requestId, command } : { requestId, clientRequestId, command })]);
    } catch (error) {
      this.options.tracker.reject(requestId, error as Error);
    }
    return result;
  }

  /** During an election, requests wait for its outcome rather than fail at once. */
  private async whenLeaderKnown(): Promise<void> {
    if (this.host.leader !== 0) return;
    await waitUntil(() => this.host.leader !== 0, LEADER_WAIT_MS).catch(() => {
      throw etcdError("noLeader");
    });
  }
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
