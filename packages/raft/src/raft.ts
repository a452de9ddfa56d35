import { invariant } from "./assert.js";
import { confChangeError, confChangesTakenBy, decodeConfChange, encodeConfChange } from "./confchange.js";
import { RaftLog } from "./log.js";
import { VoteResult } from "./quorum.js";
import { ReadIndexRounds, type ReadRequest } from "./read-index.js";
import type { Rng } from "./rng.js";
import type { Storage } from "./storage.js";
import { SnapshotUnavailableError } from "./storage.js";
import { ProgressTracker } from "./tracker/tracker.js";
import { ProgressState, type Progress } from "./tracker/progress.js";
import type { AppliedConfChange, ConfChange, ConfState, Entry, HardState, Message, NodeId, ReadState, Snapshot } from "./types.js";
import { EntryType, MessageType, NONE, Role } from "./types.js";

export interface RaftConfig {
  readonly id: NodeId;
  readonly storage: Storage;
  /** Seeded randomness for election timeouts: a run replays from its seed. */
  readonly rng: Rng;
  /** Ticks without a leader before a follower campaigns (randomized in [n, 2n)). */
  readonly electionTicks?: number;
  /** Ticks between a leader's heartbeats; must be well below electionTicks. */
  readonly heartbeatTicks?: number;
  /** The state machine's applied index at start-up. */
  readonly applied?: number;
  /** Upper bound on the entry bytes of one append message. */
  readonly maxSizePerMsg?: number;
  /** Appends in flight to one follower before the leader waits for acknowledgements. */
  readonly maxInflightMsgs?: number;
  /** Upper bound on the entry bytes handed out to apply in one Ready. */
  readonly maxApplyBytesPerReady?: number;
  /** §9.6 of the Raft thesis: a partitioned node cannot disrupt the cluster when it returns. */
  readonly preVote?: boolean;
  /** A leader steps down when it has not heard from a quorum within an election timeout. */
  readonly checkQuorum?: boolean;
  /**
   * UNSAFE, for testing the test harness only: commit by counting replicas of
   * entries from any term, the bug Figure 8 of the Raft paper describes.
   */
  readonly unsafeCommitAnyTerm?: boolean;
}

/** A proposal that was not appended: no leader, a transfer in progress, or an invalid change. */
export class ProposalDroppedError extends Error {
  override readonly name = "ProposalDroppedError";
}

export interface ProposalPosition {
  readonly index: number;
  readonly term: number;
}

enum CampaignKind {
  PreElection = "pre-election",
  Election = "election",
  /** Started by TimeoutNow during a leadership transfer: voters ignore their leader lease. */
  Transfer = "transfer",
}

/** Marks a vote request sent because the leader handed over leadership. */
const TRANSFER_CONTEXT = Uint8Array.of(0x54);

/** Messages that only a leader sends and that may leave before its own disk write (thesis §10.2.1). */
const LEADER_REPLICATION = new Set([MessageType.App, MessageType.Heartbeat, MessageType.Snap, MessageType.TimeoutNow]);

/** Messages whose grant or refusal reports nothing durable. */
const STATELESS = new Set([MessageType.PreVote, MessageType.PreVoteResp, MessageType.ReadIndexResp]);

/** Messages a follower forwards to its leader; they carry no term. */
const FORWARDED = new Set([MessageType.Prop, MessageType.ReadIndex, MessageType.TransferLeader]);

type Outgoing = Partial<Message> & Pick<Message, "type" | "to">;

/**
 * One Raft peer as a pure state machine (the Raft paper and thesis, with
 * pre-vote, check-quorum, ReadIndex, leadership transfer and single-member
 * changes). It never touches a disk, a socket or a clock: the application
 * feeds it ticks and messages and collects its work through {@link RaftNode}.
 *
 * Durability by construction: every outgoing message that reports local
 * state (a vote, an append acknowledgement) is held back until the
 * application has acknowledged persisting the state it reports.
 */
export class Raft {
  readonly id: NodeId;
  term = 0;
  private vote: NodeId = NONE;
  lead: NodeId = NONE;
  role = Role.Follower;
  readonly log: RaftLog;

  /** The configuration, and what this node knows of each member's log and vote. */
  readonly tracker: ProgressTracker;

  private readonly electionTicks: number;
  private readonly heartbeatTicks: number;
  private readonly maxSizePerMsg: number;
  readonly maxApplyBytesPerReady: number;
  private readonly preVote: boolean;
  private readonly checkQuorum: boolean;
  private readonly unsafeCommitAnyTerm: boolean;
  private readonly rng: Rng;

  private electionElapsed = 0;
  private heartbeatElapsed = 0;
  private randomizedElectionTimeout = 0;
  /** The member leadership is being handed to, or NONE. */
  leadTransferee: NodeId = NONE;
  /** Index of the latest conf change the leader appended; no other until it is applied. */
  private pendingConfIndex = 0;

  private readonly readRounds = new ReadIndexRounds();
  /** Reads that arrived before this leader committed an entry of its term. */
  private readsBeforeFirstCommit: ReadRequest[] = [];
  readStates: ReadState[] = [];

  /** Messages free to leave now. */
  outbox: Message[] = [];
  /**
   * Followers owed an append, each with whether an empty one is worth
   * sending (it carries a new commit index). Appends are built when the
   * application collects messages rather than at every proposal or
   * acknowledgement, so that all a leader took in between two Readies
   * reaches each follower as one message, answered by one acknowledgement.
   */
  private readonly appendsOwed = new Map<NodeId, boolean>();
  /**
   * Followers whose next heartbeat answer may bring them an append with
   * nothing new, which finds an append lost in flight (the follower rejects
   * it); refilled at each heartbeat tick (see handleHeartbeatResponse).
   */
  private readonly lossChecksDue = new Set<NodeId>();
  /** Messages that report state not yet durable; released by {@link RaftNode}. */
  heldUntilPersisted: Message[] = [];
  /** The term and vote last acknowledged as durable. */
  private persistedTerm: number;
  private persistedVote: NodeId;

  constructor(config: RaftConfig) {
    this.id = config.id;
    invariant(this.id !== NONE && Number.isSafeInteger(this.id) && this.id > 0, "raft: member id must be a positive integer");
    this.electionTicks = config.electionTicks ?? 10;
    this.heartbeatTicks = config.heartbeatTicks ?? 1;
    invariant(this.heartbeatTicks > 0 && this.electionTicks > this.heartbeatTicks, "raft: election ticks must exceed heartbeat ticks");
    this.maxSizePerMsg = config.maxSizePerMsg ?? 1024 * 1024;
    this.maxApplyBytesPerReady = config.maxApplyBytesPerReady ?? 64 * 1024 * 1024;
    this.preVote = config.preVote ?? true;
    this.checkQuorum = config.checkQuorum ?? true;
    this.unsafeCommitAnyTerm = config.unsafeCommitAnyTerm ?? false;
    this.rng = config.rng;

    const { hardState, confState } = config.storage.initialState();
    this.log = new RaftLog(config.storage, config.applied ?? 0);
    this.tracker = new ProgressTracker(config.maxInflightMsgs ?? 256);
    this.term = hardState.term;
    this.vote = hardState.vote;
    this.persistedTerm = hardState.term;
    this.persistedVote = hardState.vote;
    this.tracker.setConf(this.replayConfChanges(confState), this.log.lastIndex());
    this.becomeFollower(this.term, NONE);
  }

  // ---------------------------------------------------------------- queries

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.committed };
  }

  confState(): ConfState {
    return this.tracker.conf;
  }

  private isVoter(): boolean {
    return this.tracker.isVoter(this.id);
  }

  /** Nothing unpersisted: a message reporting our state may leave at once. */
  private isDurable(): boolean {
    const unstable = this.log.unstable();
    return this.term === this.persistedTerm && this.vote === this.persistedVote && unstable.entries.length === 0 && unstable.snapshot === undefined;
  }

  // ----------------------------------------------------------- local inputs

  tick(): void {
    if (this.role === Role.Leader) this.tickLeader();
    else this.tickElection();
  }

  private tickElection(): void {
    this.electionElapsed++;
    if (this.isVoter() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.campaign(this.preVote ? CampaignKind.PreElection : CampaignKind.Election);
    }
  }

  private tickLeader(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.electionTicks) {
      this.electionElapsed = 0;
      if (this.checkQuorum && !this.tracker.quorumActive(this.id)) {
        this.becomeFollower(this.term, NONE);
        return;
      }
      // A transfer that did not finish within an election timeout is abandoned.
      this.leadTransferee = NONE;
      if (!this.isVoter()) this.handOverLeadership();
    }
    if (this.heartbeatElapsed >= this.heartbeatTicks) {
      this.heartbeatElapsed = 0;
      for (const id of this.tracker.progress.keys()) if (id !== this.id) this.lossChecksDue.add(id);
      this.broadcastHeartbeat();
    }
  }

  /**
   * The application saw the leader's process go away (its connection was
   * reset or refused): stop trusting the leader lease and campaign within a
   * few ticks instead of waiting out the election timeout. The few ticks are
   * random so that followers noticing together do not split the vote.
   * Pre-vote and check-quorum keep this safe if the leader is in fact alive.
   */
  leaderLost(): void {
    if (this.role !== Role.Follower || this.lead === NONE) return;
    this.lead = NONE;
    const spread = Math.max(1, Math.floor(this.electionTicks / 4));
    this.electionElapsed = this.randomizedElectionTimeout - 1 - this.rng.nextInt(spread);
  }

  /**
   * The application regained a connection to `peer`. A leader sends it a
   * heartbeat at once: a peer that restarted learns who leads now rather
   * than at the next heartbeat tick. A node that knows no leader: an
   * election that could not reach a quorum may now succeed, so it campaigns
   * within a few ticks rather than wait out the rest of the timeout (random,
   * as in leaderLost). Pre-vote keeps it from disrupting a leader it missed.
   */
  peerReconnected(peer: NodeId): void {
    if (this.role === Role.Leader) {
      const progress = this.tracker.progress.get(peer);
      if (progress && peer !== this.id) this.sendHeartbeat(peer, progress, this.readRounds.roundContext());
      return;
    }
    if (this.lead !== NONE) return;
    const spread = Math.max(1, Math.floor(this.electionTicks / 4));
    this.electionElapsed = Math.max(this.electionElapsed, this.randomizedElectionTimeout - 1 - this.rng.nextInt(spread));
  }

  /**
   * Proposes entries in order; they get consecutive indexes. Whatever is
   * proposed before the next Ready reaches each follower in one append.
   * Returns the first entry's position when this node leads.
   */
  propose(...data: Uint8Array[]): ProposalPosition | undefined {
    return this.proposeEntries(data.map((bytes) => ({ term: 0, index: 0, type: EntryType.Normal, data: bytes })));
  }

  proposeConfChange(change: ConfChange): ProposalPosition | undefined {
    return this.proposeEntries([{ term: 0, index: 0, type: EntryType.ConfChange, data: encodeConfChange(change) }]);
  }

  private proposeEntries(entries: Entry[]): ProposalPosition | undefined {
    invariant(entries.length > 0, "raft: an empty proposal");
    if (this.role === Role.Leader) {
      for (const entry of entries) {
        const refusal = this.refuseProposal(entry);
        if (refusal) throw new ProposalDroppedError(`raft: proposal dropped: ${refusal}`);
      }
      return this.appendAsLeader(entries);
    }
    if (this.lead === NONE) throw new ProposalDroppedError("raft: proposal dropped: no leader");
    this.send({ type: MessageType.Prop, to: this.lead, entries });
    return undefined;
  }

  /** A linearizable read; the answer arrives later as a ReadState carrying `context`. */
  readIndex(context: Uint8Array): void {
    if (this.role === Role.Leader) {
      this.leaderReadIndex({ index: 0, from: this.id, context });
    } else if (this.lead !== NONE) {
      this.send({ type: MessageType.ReadIndex, to: this.lead, context });
    }
    // Without a leader the read is dropped; the caller times out and retries.
  }

  transferLeadership(transferee: NodeId): void {
    if (this.role === Role.Leader) this.startTransfer(transferee);
    else if (this.lead !== NONE) this.send({ type: MessageType.TransferLeader, to: this.lead, index: transferee });
  }

  /** The transport failed to deliver to `id`: stop pipelining and probe. */
  reportUnreachable(id: NodeId): void {
    if (this.role === Role.Leader) this.tracker.progress.get(id)?.unreachable();
  }

  /** The snapshot sent to `id` was delivered (or failed). */
  reportSnapshot(id: NodeId, delivered: boolean): void {
    if (this.role === Role.Leader) this.tracker.progress.get(id)?.snapshotReported(delivered);
  }

  // ------------------------------------------------------------ messages in

  step(m: Message): void {
    if (FORWARDED.has(m.type)) return this.stepForwarded(m);
    if (m.term > this.term && !this.acceptHigherTerm(m)) return;
    if (m.term < this.term) return this.answerStaleTerm(m);

    switch (m.type) {
      case MessageType.Vote:
      case MessageType.PreVote:
        return this.answerVoteRequest(m);
    }
    switch (this.role) {
      case Role.Leader:
        return this.stepLeader(m);
      case Role.Candidate:
      case Role.PreCandidate:
        return this.stepCandidate(m);
      case Role.Follower:
        return this.stepFollower(m);
    }
  }

  /** Handles a message from a higher term; false if it is to be ignored. */
  private acceptHigherTerm(m: Message): boolean {
    if (m.type === MessageType.Vote || m.type === MessageType.PreVote) {
      const forced = isTransfer(m.context);
      const inLease = this.checkQuorum && this.lead !== NONE && this.electionElapsed < this.electionTicks;
      // §6 of the thesis: a server that heard from a leader recently ignores disruptive candidates.
      if (inLease && !forced) return false;
    }
    if (m.type === MessageType.PreVote) return true;
    // A granted pre-vote carries the candidate's future term, not a real one.
    if (m.type === MessageType.PreVoteResp && !m.reject) return true;
    const fromLeader = m.type === MessageType.App || m.type === MessageType.Heartbeat || m.type === MessageType.Snap;
    this.becomeFollower(m.term, fromLeader ? m.from : NONE);
    return true;
  }

  private answerStaleTerm(m: Message): void {
    if ((this.checkQuorum || this.preVote) && (m.type === MessageType.App || m.type === MessageType.Heartbeat)) {
      // A leader cut off from the cluster learns our term and steps down.
      this.send({ type: MessageType.AppResp, to: m.from });
    } else if (m.type === MessageType.PreVote) {
      this.send({ type: MessageType.PreVoteResp, to: m.from, reject: true, ...this.commitReport() });
    }
  }

  private answerVoteRequest(m: Message): void {
    const isPreVote = m.type === MessageType.PreVote;
    const responseType = isPreVote ? MessageType.PreVoteResp : MessageType.VoteResp;
    const canVote = this.vote === m.from || (this.vote === NONE && this.lead === NONE) || (isPreVote && m.term > this.term);
    if (canVote && this.log.isUpToDate(m.index, m.logTerm)) {
      if (!isPreVote) {
        // Recorded before the reply is built, so the reply waits for it to be durable.
        this.electionElapsed = 0;
        this.vote = m.from;
      }
      this.send({ type: responseType, to: m.from, term: m.term });
    } else {
      this.send({ type: responseType, to: m.from, reject: true, ...this.commitReport() });
    }
  }

  /**
   * A refusal carries our commit index and its term. A candidate holding the
   * same entry there may take it as committed (by Log Matching, it is the
   * same entry): after a leader crash, a survivor can learn that a membership
   * change it stores was committed, and so stop waiting for a removed member.
   */
  private commitReport(): Pick<Message, "commit" | "logTerm"> {
    return { commit: this.log.committed, logTerm: this.log.term(this.log.committed) ?? 0 };
  }

  private learnCommit(m: Message): void {
    if (m.commit > this.log.committed && this.log.matchTerm(m.commit, m.logTerm)) this.log.commitTo(m.commit);
  }

  private stepForwarded(m: Message): void {
    if (this.role !== Role.Leader) {
      // Not the leader (any more): pass it on if we know who is.
      if (this.lead !== NONE && this.lead !== m.from) this.send({ ...m, to: this.lead });
      return;
    }
    switch (m.type) {
      case MessageType.Prop: {
        const accepted = m.entries.filter((entry) => !this.refuseProposal(entry));
        if (accepted.length > 0) this.appendAsLeader(accepted);
        return;
      }
      case MessageType.ReadIndex:
        return this.leaderReadIndex({ index: 0, from: m.from, context: m.context ?? new Uint8Array() });
      case MessageType.TransferLeader:
        return this.startTransfer(m.index);
    }
  }

  private stepFollower(m: Message): void {
    switch (m.type) {
      case MessageType.App:
        this.followLeader(m.from);
        return this.handleAppend(m);
      case MessageType.Heartbeat:
        this.followLeader(m.from);
        return this.handleHeartbeat(m);
      case MessageType.Snap:
        this.followLeader(m.from);
        return this.handleSnapshot(m);
      case MessageType.TimeoutNow:
        // The leader hands over: campaign at once, skipping pre-vote.
        if (this.isVoter()) this.campaign(CampaignKind.Transfer);
        return;
      case MessageType.ReadIndexResp:
        this.readStates.push({ index: m.index, context: m.context ?? new Uint8Array() });
        return;
    }
  }

  private followLeader(leader: NodeId): void {
    this.electionElapsed = 0;
    this.lead = leader;
  }

  private stepCandidate(m: Message): void {
    switch (m.type) {
      case MessageType.App:
      case MessageType.Heartbeat:
      case MessageType.Snap:
        // Someone won this term: follow it.
        this.becomeFollower(m.term, m.from);
        return this.stepFollower(m);
      case MessageType.VoteResp:
      case MessageType.PreVoteResp:
        return this.countVote(m);
    }
  }

  private countVote(m: Message): void {
    if (m.reject) this.learnCommit(m);
    const expected = this.role === Role.PreCandidate ? MessageType.PreVoteResp : MessageType.VoteResp;
    if (m.type !== expected) return;
    const result = this.tracker.recordVote(m.from, !m.reject);
    if (result === VoteResult.Won) {
      if (this.role === Role.PreCandidate) this.campaign(CampaignKind.Election);
      else this.becomeLeader();
    } else if (result === VoteResult.Lost) {
      this.becomeFollower(this.term, NONE);
    }
  }

  // --------------------------------------------------------------- follower

  private handleAppend(m: Message): void {
    if (m.index < this.log.committed) {
      // Everything up to our commit index already matches the leader's log.
      this.send({ type: MessageType.AppResp, to: m.from, index: this.log.committed });
      return;
    }
    const lastNew = this.log.tryAppend(m.index, m.logTerm, m.commit, m.entries);
    if (lastNew !== undefined) {
      this.send({ type: MessageType.AppResp, to: m.from, index: lastNew });
      return;
    }
    // Reject with a hint: the last index whose term is at most the leader's
    // term at m.index, so the leader can skip a whole conflicting term.
    const hint = this.log.findConflictByTerm(Math.min(m.index, this.log.lastIndex()), m.logTerm);
    this.send({
      type: MessageType.AppResp,
      to: m.from,
      index: m.index,
      reject: true,
      rejectHint: hint,
      logTerm: this.log.term(hint) ?? 0,
    });
  }

  private handleHeartbeat(m: Message): void {
    this.log.commitTo(Math.min(m.commit, this.log.lastIndex()));
    this.send({ type: MessageType.HeartbeatResp, to: m.from, context: m.context });
  }

  private handleSnapshot(m: Message): void {
    const snapshot = m.snapshot;
    invariant(snapshot !== undefined, "raft: snapshot message without a snapshot");
    const restored = this.restore(snapshot);
    const index = restored ? snapshot.meta.index : this.log.committed;
    this.send({ type: MessageType.AppResp, to: m.from, index });
  }

  /** Installs a leader's snapshot unless our log already has what it holds. */
  private restore(snapshot: Snapshot): boolean {
    const { index, term } = snapshot.meta;
    if (index <= this.log.committed) return false;
    if (this.log.matchTerm(index, term)) {
      // Our log has the entry: just fast-forward the commit index.
      this.log.commitTo(index);
      return false;
    }
    this.log.restore(snapshot);
    this.tracker.setConf(snapshot.meta.conf, this.log.lastIndex());
    return true;
  }

  // ----------------------------------------------------------------- leader

  private stepLeader(m: Message): void {
    const progress = this.tracker.progress.get(m.from);
    if (!progress) return;
    switch (m.type) {
      case MessageType.AppResp:
        progress.recentActive = true;
        return m.reject ? this.handleAppendRejected(m, progress) : this.handleAppendAccepted(m, progress);
      case MessageType.HeartbeatResp:
        progress.recentActive = true;
        return this.handleHeartbeatResponse(m, progress);
    }
  }

  private handleAppendRejected(m: Message, progress: Progress): void {
    // The follower told us the highest index where our logs can still agree.
    const hint = m.logTerm > 0 ? this.log.findConflictByTerm(m.rejectHint, m.logTerm) : m.rejectHint;
    if (progress.appendRejected(m.index, hint)) this.sendAppend(m.from);
  }

  private handleAppendAccepted(m: Message, progress: Progress): void {
    if (!progress.appendAccepted(m.index)) return;
    if (this.maybeCommit()) this.broadcastAppend();
    else this.oweAppend(m.from, false);
    if (m.from === this.leadTransferee && progress.match === this.log.lastIndex()) {
      this.send({ type: MessageType.TimeoutNow, to: m.from });
    }
  }

  private handleHeartbeatResponse(m: Message, progress: Progress): void {
    progress.heartbeatAnswered();
    if (progress.match < this.log.lastIndex() && this.appendWorthSendingOnHeartbeat(m.from, progress)) this.sendAppend(m.from);
    const acks = this.readRounds.acknowledge(m.from, m.context);
    if (acks && this.tracker.isQuorum(acks)) {
      this.releaseReads(this.readRounds.completeRound());
      this.startReadRound();
    }
  }

  /**
   * An append answering a heartbeat answer resumes a follower that probes or
   * has entries waiting. For a pipelined follower with everything sent it
   * would be empty: its commit index went out when the commit moved, so it
   * only finds an append lost in flight. Read rounds bring a heartbeat answer
   * from every follower per round, and an empty append each, answered in turn,
   * was a fifth of a busy leader's messages: that check is made once per
   * heartbeat interval, as without reads.
   */
  private appendWorthSendingOnHeartbeat(id: NodeId, progress: Progress): boolean {
    if (progress.state !== ProgressState.Replicate || progress.next <= this.log.lastIndex()) return true;
    return this.lossChecksDue.delete(id);
  }

  private refuseProposal(entry: Entry): string | undefined {
    if (this.leadTransferee !== NONE) return `leadership is being transferred to ${this.leadTransferee}`;
    if (entry.type !== EntryType.ConfChange) return undefined;
    if (this.pendingConfIndex > this.log.applied) return "a membership change is already in progress";
    if (this.log.term(this.log.committed) !== this.term) return "the leader has not yet committed an entry of its term";
    return confChangeError(this.tracker.conf, decodeConfChange(entry.data));
  }

  private appendAsLeader(entries: readonly Entry[]): ProposalPosition {
    const first = { index: this.log.lastIndex() + 1, term: this.term };
    // Built field by field, not spread from the proposal: this runs for every entry proposed.
    const numbered = entries.map((entry, i) => ({ term: this.term, index: first.index + i, type: entry.type, data: entry.data }));
    this.log.append(numbered);
    for (const entry of numbered) if (entry.type === EntryType.ConfChange) this.pendingConfIndex = entry.index;
    this.broadcastAppend();
    return first;
  }

  /** Commits what a quorum has durably stored, if it is from the current term. */
  private maybeCommit(): boolean {
    const hadCommittedInTerm = this.committedInCurrentTerm();
    const index = this.tracker.committed();
    const committed = this.unsafeCommitAnyTerm ? this.log.tryCommitAnyTerm(index) : this.log.tryCommit(index, this.term);
    if (!committed) return false;
    if (!hadCommittedInTerm) this.releaseReadsBeforeFirstCommit();
    return true;
  }

  private committedInCurrentTerm(): boolean {
    return this.log.term(this.log.committed) === this.term;
  }

  private broadcastAppend(): void {
    for (const id of this.tracker.progress.keys()) if (id !== this.id) this.oweAppend(id, true);
  }

  private oweAppend(to: NodeId, evenIfEmpty: boolean): void {
    this.appendsOwed.set(to, evenIfEmpty || this.appendsOwed.get(to) === true);
  }

  get owesAppends(): boolean {
    return this.appendsOwed.size > 0;
  }

  /** Builds the appends owed: per follower, one with everything new (more if it exceeds a message's size). */
  sendOwedAppends(): void {
    for (const [to, evenIfEmpty] of this.appendsOwed) {
      if (this.sendAppend(to, evenIfEmpty)) this.sendAppendsWhileOpen(to);
    }
    this.appendsOwed.clear();
  }

  private broadcastHeartbeat(): void {
    const context = this.readRounds.roundContext();
    for (const [id, progress] of this.tracker.progress) {
      if (id !== this.id) this.sendHeartbeat(id, progress, context);
    }
  }

  private sendHeartbeat(to: NodeId, progress: Progress, context: Uint8Array | undefined): void {
    // Never tell a follower to commit past what it is known to hold.
    this.send({ type: MessageType.Heartbeat, to, commit: Math.min(progress.match, this.log.committed), context });
  }

  /** Keeps a pipelined follower's window full. */
  private sendAppendsWhileOpen(to: NodeId): void {
    while (this.sendAppend(to, false)) {
      /* each call sends one more append */
    }
  }

  /** Sends the follower its next entries (or a snapshot). False if nothing was sent. */
  private sendAppend(to: NodeId, evenIfEmpty = true): boolean {
    const progress = this.tracker.progress.get(to);
    if (!progress || progress.isPaused()) return false;
    const prevIndex = progress.next - 1;
    const prevTerm = this.log.term(prevIndex);
    const entries = this.log.slice(progress.next, this.log.lastIndex() + 1, this.maxSizePerMsg);
    if (prevTerm === undefined || entries === undefined) return this.sendSnapshot(to, progress);
    if (entries.length === 0 && !evenIfEmpty) return false;
    this.send({ type: MessageType.App, to, index: prevIndex, logTerm: prevTerm, entries, commit: this.log.committed });
    progress.sentAppend(entries.length, prevIndex + entries.length);
    return true;
  }

  private sendSnapshot(to: NodeId, progress: Progress): boolean {
    // A follower we have not heard from lately would likely drop it.
    if (!progress.recentActive) return false;
    let snapshot: Snapshot;
    try {
      snapshot = this.log.snapshot();
    } catch (error) {
      if (error instanceof SnapshotUnavailableError) return false;
      throw error;
    }
    invariant(snapshot.meta.index > 0, "raft: needed a snapshot but storage has none");
    progress.becomeSnapshot(snapshot.meta.index);
    this.send({ type: MessageType.Snap, to, snapshot });
    return true;
  }

  /**
   * A leader that removed itself leads on without a vote, so the remaining
   * voters learn that the removal is committed, until the most caught-up
   * voter takes over. Stepping down at once could leave them waiting for a
   * vote from a member whose log they no longer match.
   */
  private handOverLeadership(): void {
    const successor = this.tracker.mostCaughtUpVoter();
    if (successor !== NONE) this.startTransfer(successor);
  }

  private startTransfer(transferee: NodeId): void {
    if (transferee === this.id || !this.tracker.isVoter(transferee)) return;
    if (this.leadTransferee === transferee) return;
    this.leadTransferee = transferee;
    // The transfer must finish within one election timeout.
    this.electionElapsed = 0;
    const progress = this.tracker.progress.get(transferee);
    if (progress?.match === this.log.lastIndex()) this.send({ type: MessageType.TimeoutNow, to: transferee });
    else this.sendAppend(transferee);
  }

  // ------------------------------------------------------------ read index

  private leaderReadIndex(request: ReadRequest): void {
    // §6.4: the commit index is only known to be current once this leader
    // has committed an entry of its own term.
    if (!this.committedInCurrentTerm()) {
      this.readsBeforeFirstCommit.push(request);
      return;
    }
    const withIndex = { ...request, index: this.log.committed };
    // A sole voter needs nobody's confirmation; a leader that removed itself still does.
    if (this.tracker.voters.size === 1 && this.isVoter()) return this.releaseReads([withIndex]);
    this.readRounds.enqueue(withIndex);
    this.startReadRound();
  }

  /** A new round rides on a heartbeat to every follower, which carries the round's context. */
  private startReadRound(): void {
    if (this.readRounds.startRound(this.id)) this.broadcastHeartbeat();
  }

  private releaseReadsBeforeFirstCommit(): void {
    const waiting = this.readsBeforeFirstCommit;
    this.readsBeforeFirstCommit = [];
    for (const request of waiting) this.leaderReadIndex(request);
  }

  private releaseReads(requests: readonly ReadRequest[]): void {
    for (const request of requests) {
      if (request.from === this.id) this.readStates.push({ index: request.index, context: request.context });
      else this.send({ type: MessageType.ReadIndexResp, to: request.from, index: request.index, context: request.context });
    }
  }

  // ------------------------------------------------------------------ roles

  private campaign(kind: CampaignKind): void {
    if (!this.canCampaign()) return;
    if (kind === CampaignKind.PreElection) this.becomePreCandidate();
    else this.becomeCandidate();
    const voteType = kind === CampaignKind.PreElection ? MessageType.PreVote : MessageType.Vote;
    const term = kind === CampaignKind.PreElection ? this.term + 1 : this.term;
    if (this.tracker.recordVote(this.id, true) === VoteResult.Won) {
      // A single voter wins outright.
      if (kind === CampaignKind.PreElection) this.campaign(CampaignKind.Election);
      else this.becomeLeader();
      return;
    }
    const context = kind === CampaignKind.Transfer ? TRANSFER_CONTEXT : undefined;
    for (const id of this.tracker.voters) {
      if (id === this.id) continue;
      this.send({ type: voteType, to: id, term, index: this.log.lastIndex(), logTerm: this.log.lastTerm(), context });
    }
  }

  /** A voter may campaign unless a snapshot or a committed membership change awaits applying. */
  private canCampaign(): boolean {
    if (!this.isVoter() || this.log.unstable().snapshot) return false;
    const unapplied = this.log.slice(this.log.applied + 1, this.log.committed + 1, Number.MAX_SAFE_INTEGER) ?? [];
    return !unapplied.some((entry) => entry.type === EntryType.ConfChange);
  }

  private reset(term: number): void {
    if (term !== this.term) {
      this.term = term;
      this.vote = NONE;
    }
    this.lead = NONE;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.randomizedElectionTimeout = this.electionTicks + this.rng.nextInt(this.electionTicks);
    this.leadTransferee = NONE;
    this.tracker.resetVotes();
    this.readRounds.reset();
    this.readsBeforeFirstCommit = [];
    this.appendsOwed.clear();
    this.lossChecksDue.clear();
    this.tracker.resetProgress(this.log.lastIndex(), this.id, this.log.persistedIndex());
  }

  private becomeFollower(term: number, lead: NodeId): void {
    this.reset(term);
    this.role = Role.Follower;
    this.lead = lead;
  }

  private becomePreCandidate(): void {
    invariant(this.role !== Role.Leader, "raft: a leader cannot become a pre-candidate");
    // Pre-vote changes neither term nor vote: losing it leaves no trace.
    this.tracker.resetVotes();
    this.role = Role.PreCandidate;
    this.lead = NONE;
  }

  private becomeCandidate(): void {
    invariant(this.role !== Role.Leader, "raft: a leader cannot become a candidate");
    this.reset(this.term + 1);
    this.vote = this.id;
    this.role = Role.Candidate;
  }

  private becomeLeader(): void {
    invariant(this.role === Role.Candidate, "raft: only a candidate can become leader");
    this.reset(this.term);
    this.role = Role.Leader;
    this.lead = this.id;
    // Any membership change in the log may still be unapplied: wait for it.
    this.pendingConfIndex = this.log.lastIndex();
    // The no-op lets this leader commit, and so learn the commit index (§8).
    this.appendAsLeader([{ term: 0, index: 0, type: EntryType.Normal, data: new Uint8Array() }]);
  }

  // --------------------------------------------------- persistence callbacks

  /** The application has durably stored the log up to (index, term) and the given term and vote. */
  onPersisted(state: HardState, lastIndex: number, lastTerm: number): void {
    this.persistedTerm = state.term;
    this.persistedVote = state.vote;
    if (lastIndex > 0) this.log.stableTo(lastIndex, lastTerm);
    if (this.role !== Role.Leader) return;
    const self = this.tracker.progress.get(this.id);
    if (self?.acknowledge(this.log.persistedIndex()) && this.maybeCommit()) this.broadcastAppend();
  }

  /** The membership changes among these committed entries that take effect, from the configuration now (see confchange.ts). */
  confChangesTakenBy(entries: readonly Entry[]): AppliedConfChange[] {
    return confChangesTakenBy(this.tracker.conf, entries);
  }

  /** Entries are applied, with the membership changes confChangesTakenBy found among them. */
  onApplied(entries: readonly Entry[], confChanges: readonly AppliedConfChange[]): void {
    for (const taken of confChanges) {
      // A snapshot restored since ready() carries the configuration up to its index.
      if (taken.index >= this.log.firstIndex()) this.takeConfChange(taken);
    }
    const last = entries[entries.length - 1];
    if (last) this.log.appliedTo(last.index);
  }

  onSnapshotInstalled(snapshot: Snapshot): void {
    this.log.stableSnapshotTo(snapshot.meta.index);
    this.log.appliedTo(Math.max(this.log.applied, snapshot.meta.index));
  }

  private takeConfChange({ conf }: AppliedConfChange): void {
    this.tracker.setConf(conf, this.log.lastIndex());
    if (this.role === Role.Leader) {
      if (!this.tracker.isVoter(this.leadTransferee)) this.leadTransferee = NONE;
      if (!this.isVoter()) this.handOverLeadership();
      // The quorum may have shrunk, and new members need the log.
      this.maybeCommit();
      this.broadcastAppend();
    }
  }

  /** The configuration at start-up: the snapshot's, plus changes applied since. */
  private replayConfChanges(fromSnapshot: ConfState): ConfState {
    const from = this.log.storage.snapshot().meta.index + 1;
    const applied = this.log.slice(from, this.log.applied + 1, Number.MAX_SAFE_INTEGER) ?? [];
    return confChangesTakenBy(fromSnapshot, applied).at(-1)?.conf ?? fromSnapshot;
  }

  // ------------------------------------------------------------ messages out

  private send(partial: Outgoing): void {
    invariant(partial.to !== this.id, "raft: a message to self");
    const message: Message = {
      from: this.id,
      term: FORWARDED.has(partial.type) ? 0 : this.term,
      logTerm: 0,
      index: 0,
      entries: [],
      commit: 0,
      reject: false,
      rejectHint: 0,
      ...partial,
    };
    if (this.mayLeaveNow(message)) this.outbox.push(message);
    else this.heldUntilPersisted.push(message);
  }

  /**
   * The durability rule: a leader's replication messages and stateless
   * pre-vote traffic leave at once; anything else waits until the state it
   * reports is on disk.
   */
  private mayLeaveNow(message: Message): boolean {
    if (this.role === Role.Leader && LEADER_REPLICATION.has(message.type)) return true;
    return STATELESS.has(message.type) || this.isDurable();
  }
}

function isTransfer(context: Uint8Array | undefined): boolean {
  return context?.byteLength === 1 && context[0] === TRANSFER_CONTEXT[0];
}
