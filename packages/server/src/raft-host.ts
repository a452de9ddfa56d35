/**
 * The application loop around the pure Raft core: it ticks the core on the clock it is given (clock.ts), owns
 * the disk (WAL), the network (peer transport) and hands committed entries to
 * the state machine. Per Ready: send, then persist (one WAL write and fsync)
 * while applying, then serve reads and advance. Messages in a Ready may leave
 * before its disk write: the core holds back anything that reports
 * unpersisted state.
 */
import { randomInt } from "node:crypto";
import {
  type MemoryStorage,
  InvariantViolation,
  ProposalDroppedError,
  RaftNode,
  Role,
  SeededRng,
  type AppliedConfChange,
  type ConfChange,
  type ConfState,
  type Entry,
  type Message,
  type NodeId,
  type ProposalPosition,
  type Ready,
  type Snapshot,
  type Status,
} from "@raftkv/raft";
import type { Wal } from "@raftkv/wal";
import type { Logger } from "pino";
import { systemClock, type Clock, type Timer } from "./clock.js";
import { ConditionWaiters } from "./condition-waiters.js";
import { GrpcCode, RaftkvError, etcdError } from "./errors.js";
import { LeaderState } from "./leader-state.js";
import type { Metrics } from "./metrics.js";
import type { StorageHealth } from "./storage-failure.js";
import { Ticker } from "./ticker.js";

/** What the host needs from the peer network. */
export interface PeerNetwork {
  send(messages: readonly Message[]): void;
}

/**
 * Applies committed entries, in order, durably recording the last applied
 * index. Of the membership changes among them, it takes those the raft core
 * says take effect (Ready.confChanges), and only those.
 */
export interface EntryApplier {
  readonly appliedIndex: number;
  apply(entries: readonly Entry[], confChanges: readonly AppliedConfChange[]): Promise<void>;
}

/** Snapshots: installing a leader's, and taking our own as the log grows. */
export interface SnapshotKeeper {
  install(snapshot: Snapshot): Promise<void>;
  maybeTake(appliedIndex: number, conf: ConfState): void;
}

export interface RaftHostOptions {
  readonly id: NodeId;
  readonly wal: Wal;
  readonly storage: MemoryStorage;
  readonly applier: EntryApplier;
  readonly snapshots: SnapshotKeeper;
  readonly network: PeerNetwork;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly tickMs: number;
  readonly heartbeatTicks: number;
  readonly electionTicks: number;
  /** Reads and proposals give up after this long. */
  readonly requestTimeoutMs: number;
  /** Whether the connection to a peer is up: a member that reaches no quorum answers 'no leader' at once. */
  readonly reachable: (peer: NodeId) => boolean;
  /** Told when a disk write fails under the loop: from then on this member acknowledges nothing. */
  readonly storageHealth: StorageHealth;
  /** UNSAFE test switches (see config.ts): acknowledge before fsync; commit any term's entries. */
  readonly unsafeAckBeforeFsync?: boolean;
  readonly unsafeCommitAnyTerm?: boolean;
  /** Time and timers; the system's unless given (a simulation gives its own). */
  readonly clock?: Clock;
  /** Seeds the spread of election timeouts; each process picks its own unless given. */
  readonly seed?: number;
}

interface ReadWaiter {
  readonly resolve: (index: number) => void;
  readonly reject: (error: Error) => void;
}

interface ReadBatch {
  readonly context: string;
  readonly waiters: ReadWaiter[];
  /** When its reads give up with etcd's timeout. */
  readonly deadline: number;
  /** Asks again if no answer comes; the answer clears it, so a round leaves no timer behind. */
  retry?: Timer;
}

/** Followers may lag this far behind in applying before writes are refused (etcd's limit). */
const MAX_APPLY_LAG = 5_000;

export class RaftHost {
  readonly node: RaftNode;
  private readonly options: RaftHostOptions;
  private readonly clock: Clock;
  private readonly ticker: Ticker;
  private looping = false;
  private loopAgain = false;
  private stopped = false;
  private failure: Error | undefined;
  /** Whether a Ready is being handled, and the captures waiting for it to end (see atApplyBoundary). */
  private handlingReady = false;
  private readonly atBoundary: (() => void)[] = [];
  /** Reads waiting for the next ReadIndex request, and those already asked (at most one request). */
  private readsToAsk: ReadWaiter[] = [];
  private readonly readsAsked = new Map<string, ReadBatch>();
  private readSequence = 0;
  /** Readers waiting until the applied index reaches theirs. */
  private appliedWaiters: { index: number; resolve: () => void }[] = [];
  /** Callers waiting for a condition on what is applied or who leads (see until). */
  private readonly conditions: ConditionWaiters;
  private readonly leaderListeners = new Set<(leader: NodeId, term: number) => void>();
  private unsavedBatches: Parameters<Wal["save"]>[0][] = [];
  private lastLeader = 0;
  private readonly leaderState: LeaderState;
  private startedAt: number | undefined;

  constructor(options: RaftHostOptions) {
    this.options = options;
    this.clock = options.clock ?? systemClock;
    this.conditions = new ConditionWaiters(this.clock);
    this.ticker = new Ticker(this.clock, options.tickMs, () => this.tick());
    this.leaderState = new LeaderState(
      {
        self: options.id,
        leader: () => this.leader,
        voters: () => this.node.confState().voters,
        reachable: options.reachable,
        onLeaderChange: (listener) => this.onLeaderChange(listener),
      },
      options.electionTicks * options.tickMs,
      this.clock,
    );
    this.node = new RaftNode({
      id: options.id,
      storage: options.storage,
      // Randomness only spreads election timeouts.
      rng: new SeededRng(options.seed ?? randomInt(0x7fffffff)),
      applied: options.applier.appliedIndex,
      heartbeatTicks: options.heartbeatTicks,
      electionTicks: options.electionTicks,
      maxSizePerMsg: 1024 * 1024,
      maxInflightMsgs: 256,
      unsafeCommitAnyTerm: options.unsafeCommitAnyTerm ?? false,
    });
  }

  start(): void {
    this.startedAt = this.clock.now();
    this.ticker.start();
    this.kick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.ticker.stop();
    const stopped = etcdError("stopped");
    for (const batch of this.readsAsked.values()) {
      if (batch.retry) this.clock.clearTimeout(batch.retry);
      for (const waiter of batch.waiters) waiter.reject(stopped);
    }
    for (const waiter of this.readsToAsk) waiter.reject(stopped);
    this.readsAsked.clear();
    this.readsToAsk = [];
    await this.whenIdle();
  }

  /** A member whose storage failed leads nothing and knows no leader, whatever its core last believed. */
  status(): Status {
    const status = this.node.status();
    return this.storageFailed ? { ...status, lead: 0, role: Role.Follower } : status;
  }

  get requestTimeoutMs(): number {
    return this.options.requestTimeoutMs;
  }

  get electionTimeoutMs(): number {
    return this.options.electionTicks * this.options.tickMs;
  }

  get leader(): NodeId {
    return this.storageFailed ? 0 : this.node.lead;
  }

  get isLeader(): boolean {
    return !this.storageFailed && this.node.role === Role.Leader;
  }

  /** Whether any of this member's storage failed, here or elsewhere (a snapshot's write, say). */
  private get storageFailed(): boolean {
    return this.options.storageHealth.failure !== undefined;
  }

  get term(): number {
    return this.node.term;
  }

  onLeaderChange(listener: (leader: NodeId, term: number) => void): () => void {
    this.leaderListeners.add(listener);
    return () => this.leaderListeners.delete(listener);
  }

  // ------------------------------------------------------------ inputs

  /** Messages from peers. */
  receive(messages: readonly Message[]): void {
    if (this.stopped) return;
    try {
      for (const message of messages) {
        if (message.to === this.options.id) this.node.step(message);
      }
    } catch (error) {
      // The core found a message breaking one of its invariants (a snapshot
      // message without its snapshot, say): its state can no longer be
      // trusted, and serving on would answer from it.
      this.stopOnFailure(error);
      return;
    }
    this.kick();
  }

  /**
   * The transport saw a peer's process go away (connection reset or refused).
   * A leader stops pipelining appends to it, as for any unreachable peer: it
   * sends one probe, and resumes from what the peer holds once it answers a
   * heartbeat, rather than building appends the transport drops until the
   * in-flight window fills, then walking back through a rejection.
   */
  peerLost(id: NodeId): void {
    this.node.reportUnreachable(id);
    if (id === this.leader && id !== this.options.id) {
      this.options.logger.info({ peer: id }, "connection to the leader was lost: campaigning early");
      this.node.leaderLost();
      this.kick();
    }
  }

  /**
   * The connection to a peer was opened again. The leader sends it a
   * heartbeat at once, so a peer that restarted learns who leads without
   * waiting for the next tick. A member that knows no leader may now reach a
   * quorum: it campaigns within a few ticks instead of waiting out its
   * election timeout. Not in its first election timeout after starting, when
   * every connection is new and a leader is most likely about to be heard from.
   */
  peerConnected(peer: NodeId): void {
    const leaderless = this.leader === 0 && this.startedAt !== undefined && this.clock.now() - this.startedAt >= this.electionTimeoutMs;
    if (!this.isLeader && !leaderless) return;
    this.node.peerReconnected(peer);
    this.kick();
  }

  peerUnreachable(id: NodeId): void {
    this.node.reportUnreachable(id);
  }

  snapshotSent(to: NodeId, delivered: boolean): void {
    this.node.reportSnapshot(to, delivered);
    this.kick();
  }

  /** Resolves once a leader is known; otherwise rejects with 'no leader', at once or within an election timeout. */
  whenLeaderKnown(): Promise<void> {
    return this.leaderState.whenKnown();
  }

  /**
   * Proposes encoded commands. Resolves with the first entry's position on
   * the leader, or undefined when forwarded to the leader.
   */
  propose(data: readonly Uint8Array[]): ProposalPosition | undefined {
    this.assertRunning();
    if (this.node.commitIndex - this.node.appliedIndex > MAX_APPLY_LAG) throw etcdError("tooManyRequests");
    try {
      const position = this.node.propose(...data);
      this.options.metrics.proposals.inc(data.length);
      this.kick();
      return position;
    } catch (error) {
      if (error instanceof ProposalDroppedError) {
        this.options.metrics.proposalsFailed.inc(data.length);
        throw this.node.lead === 0 ? etcdError("noLeader") : etcdError("leaderChanged");
      }
      throw error;
    }
  }

  /** Proposes a membership change; returns its position on the leader, or undefined when forwarded. */
  proposeConfChange(change: ConfChange): ProposalPosition | undefined {
    this.assertRunning();
    try {
      const position = this.node.proposeConfChange(change);
      this.kick();
      return position;
    } catch (error) {
      if (error instanceof ProposalDroppedError) {
        throw this.node.lead === 0 ? etcdError("noLeader") : new RaftkvError(GrpcCode.FailedPrecondition, error.message);
      }
      throw error;
    }
  }

  transferLeadership(to: NodeId): void {
    this.node.transferLeadership(to);
    this.kick();
  }

  /**
   * A linearizable read barrier: resolves once this node has applied every
   * write committed before the call. A member has at most one ReadIndex
   * request out; the reads arriving meanwhile share the next one, asked as
   * soon as it is answered (as the leader's core shares heartbeat rounds).
   * Without a leader it fails as {@link whenLeaderKnown} does.
   */
  async readBarrier(): Promise<void> {
    this.assertRunning();
    await this.whenLeaderKnown();
    const index = await new Promise<number>((resolve, reject) => {
      this.readsToAsk.push({ resolve, reject });
      if (this.readsToAsk.length === 1 && this.readsAsked.size === 0) queueMicrotask(() => this.askReadIndex());
    });
    await this.waitApplied(index);
  }

  private askReadIndex(): void {
    if (this.readsAsked.size > 0) return; // the answer to the one out asks again
    const waiters = this.readsToAsk;
    this.readsToAsk = [];
    if (waiters.length === 0 || this.stopped) return;
    const context = `${this.options.id}:${++this.readSequence}`;
    const batch = { context, waiters, deadline: this.clock.now() + this.options.requestTimeoutMs };
    this.readsAsked.set(context, batch);
    this.sendReadIndex(batch);
  }

  /**
   * Asks for a read index, and asks again each election timeout until
   * answered, out of time, or without a leader (the one asked is gone and no
   * other took over within an election timeout: the reads fail with 'no leader').
   */
  private sendReadIndex(batch: ReadBatch): void {
    if (!this.readsAsked.has(batch.context)) return;
    if (this.clock.now() >= batch.deadline || this.leader === 0) {
      this.readsAsked.delete(batch.context);
      const error = etcdError(this.leader === 0 ? "noLeader" : "timeout");
      for (const waiter of batch.waiters) waiter.reject(error);
      this.askReadIndex();
      return;
    }
    this.node.readIndex(new TextEncoder().encode(batch.context));
    this.kick();
    const retryMs = this.options.electionTicks * this.options.tickMs;
    batch.retry = this.clock.setTimeout(() => this.sendReadIndex(batch), Math.min(retryMs, batch.deadline - this.clock.now())).unref();
  }

  /**
   * A new leader: the request out was asked of the one before, which may
   * never answer (paused, or cut off), and every read since waits behind it.
   * Ask the new leader now rather than at the next retry, up to an election
   * timeout later. etcd answers such reads 'leader changed' at once and asks
   * again for the next ones; asking again for these serves them instead.
   */
  private reaskReadIndex(): void {
    // A copy: a batch past its deadline gives way to the next one, which is asked as it is made.
    for (const batch of [...this.readsAsked.values()]) {
      if (batch.retry) this.clock.clearTimeout(batch.retry);
      this.sendReadIndex(batch);
    }
  }

  /**
   * Resolves once `condition` holds, asking it again after each batch applied
   * and each change of leader, the only moments its answer can change;
   * rejects with etcd's timeout after `timeoutMs`.
   */
  until(condition: () => boolean, timeoutMs: number): Promise<void> {
    return this.conditions.until(condition, timeoutMs);
  }

  /** Resolves once the state machine has applied `index`. */
  waitApplied(index: number): Promise<void> {
    if (this.options.applier.appliedIndex >= index) return Promise.resolve();
    return new Promise((resolve) => this.appliedWaiters.push({ index, resolve }));
  }

  // ------------------------------------------------------------ the loop

  private tick(): void {
    this.node.tick();
    this.kick();
  }

  /** Runs the loop unless it is already running; then it runs once more. */
  private kick(): void {
    if (this.looping) {
      this.loopAgain = true;
      return;
    }
    if (this.stopped && !this.node.hasReady()) return;
    this.looping = true;
    void this.loop().finally(() => {
      this.looping = false;
    });
  }

  private async loop(): Promise<void> {
    try {
      do {
        this.loopAgain = false;
        while (this.node.hasReady() && !this.failure) await this.handleReady(this.node.ready());
      } while (this.loopAgain && !this.failure);
    } catch (error) {
      // A failed disk write leaves this node unable to keep its promises: stop taking part, and never retry it.
      this.stopOnFailure(error);
      this.leaveReady();
    }
  }

  /** Stops taking part for good, saying why in the log and in /health. */
  private stopOnFailure(error: unknown): void {
    this.failure = error instanceof Error ? error : new Error(String(error));
    this.options.logger.fatal({ err: this.failure }, "raft loop failed; the node stops serving");
    this.stopped = true;
    this.ticker.stop();
    this.options.storageHealth.fail(failedPart(this.failure), this.failure);
  }

  /**
   * Runs `capture` where the store, the member registry and raft's membership
   * all stand at one applied index: between two Readies, never while a batch
   * is being applied or a snapshot installed (the registry takes a batch's
   * changes before the store does). It runs synchronously there, so whatever
   * it reads or starts sees that one state.
   */
  atApplyBoundary<T>(capture: (appliedIndex: number, conf: ConfState) => T): Promise<T> {
    return new Promise((resolve, reject) => {
      const run = () => {
        try {
          resolve(capture(this.options.applier.appliedIndex, this.node.confState()));
        } catch (error) {
          reject(error);
        }
      };
      if (this.handlingReady) this.atBoundary.push(run);
      else run();
    });
  }

  /** One Ready, marked as being handled until finishReady (or the loop's failure) ends it (see atApplyBoundary). */
  private handleReady(ready: Ready): Promise<void> | undefined {
    this.handlingReady = true;
    return this.applyAndPersist(ready);
  }

  private leaveReady(): void {
    this.handlingReady = false;
    for (const run of this.atBoundary.splice(0)) run();
  }

  /**
   * A Ready's work. This and the steps below are plain functions that return a
   * promise only for work that waits, chained with `then`: as async
   * functions, each layer cost every Ready a promise and a turn or two.
   */
  private applyAndPersist(ready: Ready): Promise<void> | undefined {
    this.options.network.send(ready.messages);
    if (ready.softState) this.noteSoftState(ready.softState.lead);
    // The core hands out only entries already durable here, so applying them
    // (and answering their callers) need not wait for this Ready's own write.
    const applying = this.applyEntries(ready.committedEntries, ready.confChanges);
    const persisting = this.persistReady(ready);
    const finish = (): void => this.finishReady(ready);
    if (applying && persisting) return Promise.all([applying, persisting]).then(finish);
    const waiting = applying ?? persisting;
    if (waiting) return waiting.then(finish);
    finish();
    return undefined;
  }

  private finishReady(ready: Ready): void {
    for (const state of ready.readStates) this.answerReads(new TextDecoder().decode(state.context), state.index);
    this.node.advance();
    // After advance, raft's membership includes the changes just applied, matching the store and the registry.
    if (ready.committedEntries.length > 0) this.options.snapshots.maybeTake(this.options.applier.appliedIndex, this.node.confState());
    this.leaveReady();
  }

  /** Persists what the Ready asks to; a promise only when that waits for the disk. */
  private persistReady(ready: Ready): Promise<void> | undefined {
    // Acknowledgements leave as soon as the write is durable, not after applying.
    const acknowledge = (): void => this.options.network.send(this.node.persisted());
    if (ready.mustSync) return this.persist(ready).then(acknowledge);
    if (ready.hardState) this.options.storage.setHardState(ready.hardState);
    acknowledge();
    return undefined;
  }

  private persist(ready: Ready): Promise<void> {
    const batch = {
      ...(ready.snapshot ? { snapshot: ready.snapshot.meta } : {}),
      ...(ready.entries.length > 0 ? { entries: ready.entries } : {}),
      ...(ready.hardState ? { hardState: ready.hardState } : {}),
    };
    if (!this.options.unsafeAckBeforeFsync) return this.save(batch).then(() => this.keepPersisted(ready));
    this.saveLater(batch);
    return Promise.resolve(this.keepPersisted(ready));
  }

  /** Raft's storage takes what is now durable, an installed snapshot first. */
  private keepPersisted(ready: Ready): Promise<void> | undefined {
    const keepRest = (): void => {
      this.options.storage.append(ready.entries);
      if (ready.hardState) this.options.storage.setHardState(ready.hardState);
    };
    if (!ready.snapshot) {
      keepRest();
      return undefined;
    }
    this.options.storage.applySnapshot(ready.snapshot);
    return this.options.snapshots.install(ready.snapshot).then(keepRest);
  }

  private save(batch: Parameters<Wal["save"]>[0]): Promise<void> {
    const started = performance.now();
    return this.options.wal.save(batch).then(() => this.options.metrics.walFsyncSeconds.observe((performance.now() - started) / 1000));
  }

  /** UNSAFE: the write is acknowledged now and reaches the disk up to half a second later. */
  private saveLater(batch: Parameters<Wal["save"]>[0]): void {
    this.unsavedBatches.push(batch);
    if (this.unsavedBatches.length > 1) return;
    this.clock
      .setTimeout(() => {
        const batches = this.unsavedBatches;
        this.unsavedBatches = [];
        // A failed write stops the member as one under the loop does (see loop), rather than going unhandled.
        batches
          .reduce((chain, each) => chain.then(() => this.save(each)), Promise.resolve())
          .catch((error: unknown) => this.options.storageHealth.fail("wal", error));
      }, 500)
      .unref();
  }

  /** Applies committed entries, if any; a promise only when there are. */
  private applyEntries(entries: readonly Entry[], confChanges: readonly AppliedConfChange[]): Promise<void> | undefined {
    if (entries.length === 0) return undefined;
    const started = performance.now();
    return this.options.applier.apply(entries, confChanges).then(() => {
      this.options.metrics.applySeconds.observe((performance.now() - started) / 1000);
      this.wakeAppliedWaiters();
    });
  }

  private wakeAppliedWaiters(): void {
    const applied = this.options.applier.appliedIndex;
    const ready = this.appliedWaiters.filter((waiter) => waiter.index <= applied);
    this.appliedWaiters = this.appliedWaiters.filter((waiter) => waiter.index > applied);
    for (const waiter of ready) waiter.resolve();
    this.conditions.recheck();
  }

  private answerReads(context: string, index: number): void {
    const batch = this.readsAsked.get(context);
    if (!batch) return;
    if (batch.retry) this.clock.clearTimeout(batch.retry);
    this.readsAsked.delete(context);
    for (const waiter of batch.waiters) waiter.resolve(index);
    this.askReadIndex();
  }

  private noteSoftState(leader: NodeId): void {
    if (leader === this.lastLeader) return;
    const term = this.node.term;
    this.lastLeader = leader;
    this.options.metrics.leaderChanges.inc();
    this.options.logger.info({ leader, term }, leader === 0 ? "no leader" : "leader elected");
    if (leader !== 0) this.reaskReadIndex();
    for (const listener of this.leaderListeners) listener(leader, term);
    this.conditions.recheck();
  }

  private assertRunning(): void {
    if (this.stopped) throw etcdError("stopped");
  }

  private async whenIdle(): Promise<void> {
    while (this.looping) await new Promise((resolve) => setImmediate(resolve));
  }
}

/** Which part of the loop's storage an error came from, for /health's reason. */
function failedPart(error: Error): string {
  if (error.name === "WalFailedError") return "wal";
  if (error.name === "StoreUnavailableError") return "store";
  if (error instanceof InvariantViolation) return "raft";
  return "apply";
}
