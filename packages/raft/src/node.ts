import { invariant } from "./assert.js";
import { encodeConfChange } from "./confchange.js";
import { Raft, type ProposalPosition, type RaftConfig } from "./raft.js";
import type { ProgressState } from "./tracker/progress.js";
import type { AppliedConfChange, ConfChange, ConfState, Entry, HardState, Message, NodeId, ReadState, Snapshot } from "./types.js";
import { ConfChangeType, EntryType, Role } from "./types.js";

export interface SoftState {
  readonly lead: NodeId;
  readonly role: Role;
}

/**
 * The work one cycle of the application loop must do, in this order:
 * send `messages` (safe at once), persist `hardState`, `entries` and
 * `snapshot` (fsync when `mustSync`), optionally call
 * {@link RaftNode.persisted} and send what it returns, apply
 * `committedEntries`, serve `readStates`, then call {@link RaftNode.advance}.
 */
export interface Ready {
  /** Present when leader or role changed. */
  readonly softState?: SoftState;
  /** Present when term, vote or commit changed since the last persisted state. */
  readonly hardState?: HardState;
  /** To append to stable storage, replacing any suffix they conflict with. */
  readonly entries: readonly Entry[];
  /** A leader's snapshot to install before anything else. */
  readonly snapshot?: Snapshot;
  /** Committed and locally durable: apply them in order. */
  readonly committedEntries: readonly Entry[];
  /**
   * The membership changes among committedEntries that take effect (an
   * invalid one is skipped), each with the configuration after it, decided
   * here once: advance() applies exactly these, and the application's own
   * record of members follows them, in log order with the other entries.
   */
  readonly confChanges: readonly AppliedConfChange[];
  /** Every message here may leave before this Ready is persisted. */
  readonly messages: readonly Message[];
  readonly readStates: readonly ReadState[];
  /**
   * Whether anything must be written (and synced) before advance: term, vote,
   * entries or a snapshot changed. When false, a hard state whose only change
   * is the commit index may be kept in memory alone: on restart the commit
   * index is recovered from the state machine's applied index or the leader.
   */
  readonly mustSync: boolean;
}

export interface Status {
  readonly id: NodeId;
  readonly hardState: HardState;
  readonly applied: number;
  readonly lastIndex: number;
  readonly lead: NodeId;
  readonly role: Role;
  readonly conf: ConfState;
  readonly leadTransferee: NodeId;
  /** Leader only: where each member's log stands. */
  readonly progress: ReadonlyMap<NodeId, { match: number; next: number; state: ProgressState }>;
}

interface InFlight {
  readonly hardState: HardState;
  readonly lastEntry: Entry | undefined;
  readonly snapshot: Snapshot | undefined;
  readonly committedEntries: readonly Entry[];
  readonly confChanges: readonly AppliedConfChange[];
  /** Messages waiting for this Ready's state to become durable. */
  readonly releasedOnAdvance: Message[];
  persisted: boolean;
}

/**
 * The application's handle on a Raft peer (the shape of etcd's RawNode):
 * inputs go in through tick, step and the proposal methods; work comes out
 * through ready and is acknowledged with advance. One Ready is out at a time.
 */
export class RaftNode {
  private readonly raft: Raft;
  private persistedHardState: HardState;
  private lastSoftState: SoftState;
  private inFlight: InFlight | undefined;

  constructor(config: RaftConfig) {
    this.raft = new Raft(config);
    this.persistedHardState = this.raft.hardState();
    this.lastSoftState = this.softState();
  }

  // Cheap views of status(), for request paths.
  get term(): number {
    return this.raft.term;
  }

  get lead(): NodeId {
    return this.raft.lead;
  }

  get role(): Role {
    return this.raft.role;
  }

  get commitIndex(): number {
    return this.raft.log.committed;
  }

  get appliedIndex(): number {
    return this.raft.log.applied;
  }

  tick(): void {
    this.raft.tick();
  }

  step(message: Message): void {
    invariant(message.to === this.raft.id, () => `raft: message for ${message.to} stepped into ${this.raft.id}`);
    this.raft.step(message);
  }

  /**
   * Appends (leader) or forwards (follower) proposals, in order and with
   * consecutive indexes; throws ProposalDroppedError when neither is possible.
   */
  propose(...data: Uint8Array[]): ProposalPosition | undefined {
    return this.raft.propose(...data);
  }

  proposeConfChange(change: ConfChange): ProposalPosition | undefined {
    return this.raft.proposeConfChange(change);
  }

  readIndex(context: Uint8Array): void {
    this.raft.readIndex(context);
  }

  transferLeadership(transferee: NodeId): void {
    this.raft.transferLeadership(transferee);
  }

  leaderLost(): void {
    this.raft.leaderLost();
  }

  peerReconnected(peer: NodeId): void {
    this.raft.peerReconnected(peer);
  }

  reportUnreachable(id: NodeId): void {
    this.raft.reportUnreachable(id);
  }

  reportSnapshot(id: NodeId, delivered: boolean): void {
    this.raft.reportSnapshot(id, delivered);
  }

  confState(): ConfState {
    return this.raft.confState();
  }

  /** Term of the entry at `index` in this node's log, durable or not; undefined if absent or compacted. */
  entryTerm(index: number): number | undefined {
    return this.raft.log.term(index);
  }

  hasReady(): boolean {
    if (this.inFlight) return false;
    const raft = this.raft;
    const unstable = raft.log.unstable();
    return (
      raft.outbox.length > 0 ||
      raft.owesAppends ||
      raft.heldUntilPersisted.length > 0 ||
      raft.readStates.length > 0 ||
      unstable.entries.length > 0 ||
      unstable.snapshot !== undefined ||
      !sameHardState(raft.hardState(), this.persistedHardState) ||
      !sameSoftState(this.softState(), this.lastSoftState) ||
      Math.min(raft.log.committed, raft.log.persistedIndex()) > raft.log.applied
    );
  }

  ready(): Ready {
    invariant(!this.inFlight, "raft: ready() called again before advance()");
    const raft = this.raft;
    raft.sendOwedAppends();
    const hardState = raft.hardState();
    const unstable = raft.log.unstable();
    const entries = [...unstable.entries];
    const snapshot = unstable.snapshot;
    const committedEntries = snapshot ? [] : raft.log.committedToApply(raft.log.applied, raft.maxApplyBytesPerReady);
    const confChanges = raft.confChangesTakenBy(committedEntries);
    const softState = this.softState();
    const hardStateChanged = !sameHardState(hardState, this.persistedHardState);
    const ready: Ready = {
      ...(sameSoftState(softState, this.lastSoftState) ? {} : { softState }),
      ...(hardStateChanged ? { hardState } : {}),
      ...(snapshot ? { snapshot } : {}),
      entries,
      committedEntries,
      confChanges,
      messages: raft.outbox,
      readStates: raft.readStates,
      mustSync:
        entries.length > 0 || snapshot !== undefined || hardState.term !== this.persistedHardState.term || hardState.vote !== this.persistedHardState.vote,
    };
    this.inFlight = {
      hardState,
      lastEntry: entries[entries.length - 1],
      snapshot,
      committedEntries,
      confChanges,
      releasedOnAdvance: raft.heldUntilPersisted,
      persisted: false,
    };
    raft.outbox = [];
    raft.readStates = [];
    raft.heldUntilPersisted = [];
    this.lastSoftState = softState;
    return ready;
  }

  /**
   * Optional, between ready() and advance(): the last Ready's hard state,
   * entries and snapshot are durable. Returns the messages free to leave now,
   * among them the acknowledgements and votes that waited for this write, so
   * they need not wait for the committed entries to be applied.
   */
  persisted(): Message[] {
    const done = this.inFlight;
    invariant(done !== undefined && !done.persisted, "raft: persisted() without an unpersisted ready()");
    this.markPersisted(done);
    this.raft.sendOwedAppends();
    const messages = this.raft.outbox;
    this.raft.outbox = [];
    return messages;
  }

  /** The last Ready is persisted and applied, its membership changes with it (Ready.confChanges). */
  advance(): void {
    const done = this.inFlight;
    invariant(done !== undefined, "raft: advance() without a ready()");
    if (!done.persisted) this.markPersisted(done);
    this.inFlight = undefined;
    this.raft.onApplied(done.committedEntries, done.confChanges);
  }

  private markPersisted(done: InFlight): void {
    done.persisted = true;
    if (done.snapshot) this.raft.onSnapshotInstalled(done.snapshot);
    this.raft.onPersisted(done.hardState, done.lastEntry?.index ?? 0, done.lastEntry?.term ?? 0);
    this.persistedHardState = done.hardState;
    this.raft.outbox.push(...done.releasedOnAdvance);
  }

  status(): Status {
    const raft = this.raft;
    const progress = new Map<NodeId, { match: number; next: number; state: ProgressState }>();
    if (raft.role === Role.Leader) {
      for (const id of [...raft.confState().voters, ...raft.confState().learners]) {
        const member = raft.tracker.progress.get(id);
        if (member) progress.set(id, { match: member.match, next: member.next, state: member.state });
      }
    }
    return {
      id: raft.id,
      hardState: raft.hardState(),
      applied: raft.log.applied,
      lastIndex: raft.log.lastIndex(),
      lead: raft.lead,
      role: raft.role,
      conf: raft.confState(),
      leadTransferee: raft.leadTransferee,
      progress,
    };
  }

  private softState(): SoftState {
    return { lead: this.raft.lead, role: this.raft.role };
  }
}

/** A founding member: its id and what the application wants the log to say about it. */
export interface FoundingMember {
  readonly id: NodeId;
  /** Opaque to raft: the server puts the member's name and URLs here. */
  readonly context?: Uint8Array;
}

/**
 * The first log of a brand-new cluster: one committed AddNode entry per
 * founding voter, identical on every founder, so that members joining later
 * learn the whole membership from the log.
 */
export function bootstrapLog(founders: readonly (NodeId | FoundingMember)[]): { hardState: HardState; entries: Entry[] } {
  invariant(founders.length > 0, "raft: a cluster needs at least one voter");
  const members = founders.map((founder) => (typeof founder === "number" ? { id: founder } : founder));
  const entries = [...members]
    .sort((a, b) => a.id - b.id)
    .map((member, i) => ({
      term: 1,
      index: i + 1,
      type: EntryType.ConfChange,
      data: encodeConfChange({ type: ConfChangeType.AddNode, nodeId: member.id, context: member.context }),
    }));
  return { hardState: { term: 1, vote: 0, commit: entries.length }, entries };
}

function sameHardState(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

function sameSoftState(a: SoftState, b: SoftState): boolean {
  return a.lead === b.lead && a.role === b.role;
}
