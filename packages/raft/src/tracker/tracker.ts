import { committedIndex, hasQuorum, voteResult, type VoteResult } from "../quorum.js";
import { EMPTY_CONF } from "../storage.js";
import type { ConfState, NodeId } from "../types.js";
import { NONE } from "../types.js";
import { Progress } from "./progress.js";

/**
 * What a node knows of every member (etcd's tracker): the configuration,
 * each member's replication progress, the votes of the current election,
 * and which members were heard from lately. Only a leader's progress and a
 * candidate's votes mean anything; the quorum arithmetic is in quorum.ts.
 */
export class ProgressTracker {
  private currentConf: ConfState = EMPTY_CONF;
  private voterIds: ReadonlySet<NodeId> = new Set();
  private readonly byMember = new Map<NodeId, Progress>();
  private readonly votes = new Map<NodeId, boolean>();

  constructor(private readonly maxInflight: number) {}

  get conf(): ConfState {
    return this.currentConf;
  }

  get voters(): ReadonlySet<NodeId> {
    return this.voterIds;
  }

  /** Every member's progress, in the order members entered the configuration (the order of broadcasts). */
  get progress(): ReadonlyMap<NodeId, Progress> {
    return this.byMember;
  }

  isVoter(id: NodeId): boolean {
    return this.voterIds.has(id);
  }

  /**
   * Adopts a configuration. A member keeps its progress unless it changed
   * between voter and learner; a new member is probed from `lastIndex + 1`.
   */
  setConf(conf: ConfState, lastIndex: number): void {
    this.currentConf = conf;
    this.voterIds = new Set(conf.voters);
    const members = new Set([...conf.voters, ...conf.learners]);
    for (const id of this.byMember.keys()) if (!members.has(id)) this.byMember.delete(id);
    for (const id of members) {
      const isLearner = !this.voterIds.has(id);
      const existing = this.byMember.get(id);
      if (existing && existing.isLearner === isLearner) continue;
      const progress = new Progress(existing?.next ?? lastIndex + 1, this.maxInflight, isLearner);
      progress.match = existing?.match ?? 0;
      progress.recentActive = true;
      this.byMember.set(id, progress);
    }
  }

  /** Forgets what was learnt in the last term: every member is probed from `lastIndex + 1`. */
  resetProgress(lastIndex: number, self: NodeId, selfMatch: number): void {
    for (const [id, progress] of this.byMember) {
      const fresh = new Progress(lastIndex + 1, this.maxInflight, progress.isLearner);
      fresh.recentActive = true;
      if (id === self) fresh.match = selfMatch;
      this.byMember.set(id, fresh);
    }
  }

  /** The highest index a quorum of voters has durably stored. */
  committed(): number {
    return committedIndex(this.voterIds, (id) => this.byMember.get(id)?.match ?? 0);
  }

  /**
   * Check-quorum: whether a quorum of voters (counting `self`) was heard from
   * since the last check. Starts the next period of activity.
   */
  quorumActive(self: NodeId): boolean {
    const active = hasQuorum(this.voterIds, (id) => id === self || this.byMember.get(id)?.recentActive === true);
    for (const [id, progress] of this.byMember) if (id !== self) progress.recentActive = false;
    return active;
  }

  /** Whether `ids` include a quorum of the voters. */
  isQuorum(ids: ReadonlySet<NodeId>): boolean {
    return hasQuorum(this.voterIds, (id) => ids.has(id));
  }

  /** Counts a vote (the latest answer of a member counts) and returns the election's result. */
  recordVote(id: NodeId, granted: boolean): VoteResult {
    this.votes.set(id, granted);
    return voteResult(this.voterIds, this.votes);
  }

  resetVotes(): void {
    this.votes.clear();
  }

  /** The voter that holds the most of the leader's log, or NONE. */
  mostCaughtUpVoter(): NodeId {
    return mostCaughtUp(this.voterIds, (id) => this.byMember.get(id)?.match);
  }
}

/**
 * The candidate with the highest acknowledged index, the first listed among
 * equals, or NONE if there are none. A leader hands over to it because it
 * needs the fewest entries to take over. Candidates without progress rank last.
 */
export function mostCaughtUp(candidates: Iterable<NodeId>, match: (id: NodeId) => number | undefined): NodeId {
  let best: NodeId = NONE;
  let bestMatch = -1;
  for (const id of candidates) {
    const candidateMatch = match(id) ?? -1;
    if (candidateMatch > bestMatch) {
      best = id;
      bestMatch = candidateMatch;
    }
  }
  return best;
}
