/**
 * The Raft safety properties (Figure 3 of the paper) checked on a simulated
 * cluster after every step, plus the durability rules of this implementation.
 * A violation throws at the step that broke it.
 */
import { EntryType, MessageType, Role, type Entry, type Message, type NodeId, type Ready } from "../../src/index.js";
import type { Cluster } from "./cluster.js";

export class SafetyViolation extends Error {
  override readonly name = "SafetyViolation";
}

function fail(message: string): never {
  throw new SafetyViolation(message);
}

const LEADER_MESSAGES = new Set([MessageType.App, MessageType.Heartbeat, MessageType.Snap]);

interface CreatedEntry {
  readonly prevTerm: number;
  readonly payload: string;
}

export class InvariantChecker {
  /** Election Safety: the one leader of each term. */
  private readonly leaderOfTerm = new Map<number, NodeId>();
  /** Every entry some leader committed: index -> term. */
  private readonly committedTerms = new Map<number, number>();
  private highestCommittedIndex = 0;
  /** Each entry as its leader created it, keyed "term:index". */
  private readonly created = new Map<string, CreatedEntry>();
  /** State Machine Safety: the state after applying each index. */
  private readonly stateAfter = new Map<number, number>();
  private readonly commitSeen = new Map<NodeId, number>();
  private readonly durableCommit = new Map<NodeId, number>();
  private readonly leaderTail = new Map<NodeId, { term: number; lastIndex: number; lastTerm: number }>();
  /** Each node's voters at the previous check. */
  private readonly votersAtLastCheck = new Map<NodeId, readonly NodeId[]>();
  readsChecked = 0;
  appliedCount = 0;
  snapshotsInstalled = 0;
  private foundingEntries = 0;
  membershipChanges = 0;

  constructor(private readonly cluster: Cluster) {}

  highestCommitted(): number {
    return this.highestCommittedIndex;
  }

  recordBootstrap(entries: readonly Entry[]): void {
    this.foundingEntries = entries.length;
    let prevTerm = 0;
    for (const entry of entries) {
      this.created.set(key(entry), { prevTerm, payload: payloadOf(entry) });
      this.recordCommitted(entry.index, entry.term);
      prevTerm = entry.term;
    }
  }

  onStart(id: NodeId): void {
    const commit = this.cluster.sim(id).disk.initialState().hardState.commit;
    this.commitSeen.set(id, commit);
    this.leaderTail.delete(id);
  }

  onReady(id: NodeId, ready: Ready): void {
    // Observe the commit index before the entries it releases are applied.
    this.checkNode(id);
    const node = this.cluster.node(id);
    const status = node.status();
    // A node may win and lose leadership between two readies: its replication
    // messages and its softState still show which terms it led.
    if (ready.softState?.role === Role.Leader) this.noteLeader(id, status.hardState.term);
    this.onSent(ready.messages);
    for (const entry of ready.entries) {
      if (this.leaderOfTerm.get(entry.term) !== id || this.created.has(key(entry))) continue;
      this.created.set(key(entry), { prevTerm: node.entryTerm(entry.index - 1) ?? -1, payload: payloadOf(entry) });
    }
  }

  /**
   * Replication messages show which terms a node led, and the entries it
   * created: an append may carry entries newer than the sender's last Ready.
   */
  onSent(messages: readonly Message[]): void {
    for (const message of messages) {
      if (!LEADER_MESSAGES.has(message.type)) continue;
      this.noteLeader(message.from, message.term);
      let prevTerm = message.logTerm;
      for (const entry of message.entries) {
        if (entry.term === message.term && !this.created.has(key(entry))) {
          this.created.set(key(entry), { prevTerm, payload: payloadOf(entry) });
        }
        prevTerm = entry.term;
      }
    }
  }

  private noteLeader(id: NodeId, term: number): void {
    const existing = this.leaderOfTerm.get(term);
    if (existing !== undefined && existing !== id) fail(`Election Safety: ${existing} and ${id} both lead term ${term}`);
    if (existing !== undefined) return;
    this.leaderOfTerm.set(term, id);
    const status = this.cluster.node(id).status();
    if (status.role === Role.Leader && status.hardState.term === term) this.checkLeaderCompleteness(id);
  }

  /** Leader Completeness: a new leader holds every committed entry it has not compacted. */
  private checkLeaderCompleteness(id: NodeId): void {
    const node = this.cluster.node(id);
    const firstKept = this.cluster.sim(id).disk.firstIndex();
    for (const [index, committedTerm] of this.committedTerms) {
      if (index < firstKept) continue;
      const term = node.entryTerm(index);
      if (term !== committedTerm) {
        fail(`Leader Completeness: leader ${id} has term ${term} at committed index ${index} (committed in term ${committedTerm})`);
      }
    }
  }

  /** Log Matching, inductively: every durable entry sits after the entry its leader put before it. */
  onPersisted(id: NodeId, ready: Ready): void {
    const disk = this.cluster.sim(id).disk;
    for (const entry of ready.entries) {
      const origin = this.created.get(key(entry));
      if (!origin) fail(`Log Matching: node ${id} stored ${key(entry)}, which no leader created`);
      if (origin.payload !== payloadOf(entry)) fail(`Log Matching: node ${id} stored a different ${key(entry)}`);
      if (entry.index - 1 < disk.firstIndex() - 1) continue;
      const prevTerm = disk.term(entry.index - 1);
      if (prevTerm !== origin.prevTerm) {
        fail(`Log Matching: node ${id} has term ${prevTerm} before ${key(entry)}, its leader had ${origin.prevTerm}`);
      }
    }
    if (ready.hardState && ready.mustSync) {
      const before = this.durableCommit.get(id) ?? 0;
      if (ready.hardState.commit < before) fail(`durable commit of ${id} went back from ${before} to ${ready.hardState.commit}`);
      this.durableCommit.set(id, ready.hardState.commit);
    }
  }

  onApplied(id: NodeId, entry: Entry, stateHash: number): void {
    this.appliedCount++;
    if (entry.type === EntryType.ConfChange && entry.index > this.foundingEntries) this.membershipChanges++;
    const committedTerm = this.committedTerms.get(entry.index);
    if (committedTerm !== entry.term) {
      fail(`State Machine Safety: node ${id} applied ${key(entry)} but term ${committedTerm} was committed there`);
    }
    this.onMachineState(id, entry.index, stateHash);
  }

  onMachineState(id: NodeId, applied: number, stateHash: number): void {
    const expected = this.stateAfter.get(applied);
    if (expected === undefined) this.stateAfter.set(applied, stateHash);
    else if (expected !== stateHash) fail(`State Machine Safety: node ${id} diverged at index ${applied}`);
  }

  onReadServed(id: NodeId, context: string, index: number): void {
    const committedWhenAsked = this.cluster.sim(id).reads.get(context);
    if (committedWhenAsked === undefined) return;
    this.cluster.sim(id).reads.delete(context);
    this.cluster.sim(id).servedReads.push({ context, index });
    this.readsChecked++;
    if (index < committedWhenAsked) {
      fail(`Linearizable read: node ${id} served read ${context} at ${index}, below ${committedWhenAsked} committed before it was asked`);
    }
  }

  checkAll(): void {
    for (const id of this.cluster.aliveIds()) this.checkNode(id);
  }

  private checkNode(id: NodeId): void {
    const node = this.cluster.node(id);
    const status = node.status();
    const commit = status.hardState.commit;
    const seen = this.commitSeen.get(id) ?? 0;
    if (commit < seen) fail(`commit of ${id} went back from ${seen} to ${commit}`);
    if (status.role === Role.Leader) this.checkLeaderAppendOnly(id, status.hardState.term, status.lastIndex);
    if (commit > seen) {
      // Whoever learns of a commit must agree with everyone else about what it holds.
      for (let index = seen + 1; index <= commit; index++) {
        const term = node.entryTerm(index);
        if (term !== undefined) this.recordCommitted(index, term);
      }
      if (status.role === Role.Leader) this.checkQuorumDurable(id, commit, node.entryTerm(commit) ?? -1);
      this.commitSeen.set(id, commit);
    }
    this.votersAtLastCheck.set(id, status.conf.voters);
  }

  private checkLeaderAppendOnly(id: NodeId, term: number, lastIndex: number): void {
    const node = this.cluster.node(id);
    const previous = this.leaderTail.get(id);
    if (previous?.term === term) {
      if (lastIndex < previous.lastIndex || node.entryTerm(previous.lastIndex) !== previous.lastTerm) {
        fail(`Leader Append-Only: leader ${id} of term ${term} lost or changed entry ${previous.lastIndex}`);
      }
    }
    this.leaderTail.set(id, { term, lastIndex, lastTerm: node.entryTerm(lastIndex) ?? -1 });
  }

  /**
   * The commit index never runs ahead of what a quorum has made durable. The
   * leader may have applied a membership change since it committed, within
   * the same step: a majority of either configuration will do.
   */
  private checkQuorumDurable(leader: NodeId, index: number, term: number): void {
    const holds = (id: NodeId) => {
      const disk = this.cluster.sim(id).disk;
      if (index < disk.firstIndex() - 1) return true;
      return index <= disk.lastIndex() && disk.term(index) === term;
    };
    const configurations = [this.cluster.node(leader).confState().voters, this.votersAtLastCheck.get(leader) ?? []];
    const durable = configurations.some((voters) => voters.filter(holds).length * 2 > voters.length);
    if (!durable) fail(`leader ${leader} committed ${term}:${index} held durably by only ${this.cluster.ids.filter(holds)}`);
  }

  private recordCommitted(index: number, term: number): void {
    const existing = this.committedTerms.get(index);
    if (existing !== undefined && existing !== term) fail(`State Machine Safety: index ${index} committed in terms ${existing} and ${term}`);
    this.committedTerms.set(index, term);
    this.highestCommittedIndex = Math.max(this.highestCommittedIndex, index);
  }
}

function key(entry: Entry): string {
  return `${entry.term}:${entry.index}`;
}

function payloadOf(entry: Entry): string {
  return `${entry.type}/${new TextDecoder().decode(entry.data)}`;
}
