/**
 * Whether a request that needs a leader can be served here. During an
 * election a request waits for its outcome, but at most one election timeout:
 * an election that has not ended by then will not end soon, and the client
 * is better served by another member. A member that cannot reach a quorum of
 * voters knows no leader can come from here and says so at once. Either way
 * the answer is etcd's 'etcdserver: no leader' (Unavailable, HTTP 503), which
 * clients and load balancers take as "ask another member".
 */
import type { NodeId } from "@raftkv/raft";
import { systemClock, type Clock } from "./clock.js";
import { etcdError } from "./errors.js";

export interface LeaderSource {
  readonly self: NodeId;
  /** The leader this member follows, 0 when it knows of none. */
  leader(): NodeId;
  voters(): readonly NodeId[];
  /** Whether the connection to `peer` is up. */
  reachable(peer: NodeId): boolean;
  onLeaderChange(listener: (leader: NodeId) => void): () => void;
}

export class LeaderState {
  constructor(
    private readonly source: LeaderSource,
    /** The longest a request waits for an election's outcome: one election timeout. */
    private readonly waitMs: number,
    private readonly clock: Clock = systemClock,
  ) {}

  /** Whether this member and the peers it is connected to make up a majority of the voters. */
  canReachQuorum(): boolean {
    const voters = this.source.voters();
    const reached = voters.filter((id) => id === this.source.self || this.source.reachable(id)).length;
    return reached > voters.length / 2;
  }

  /** Resolves once a leader is known; rejects with 'no leader' at once or after one election timeout. */
  whenKnown(): Promise<void> {
    if (this.source.leader() !== 0) return Promise.resolve();
    if (!this.canReachQuorum()) return Promise.reject(etcdError("noLeader"));
    return new Promise((resolve, reject) => {
      const timer = this.clock.setTimeout(() => {
        unsubscribe();
        reject(etcdError("noLeader"));
      }, this.waitMs);
      const unsubscribe = this.source.onLeaderChange((leader) => {
        if (leader === 0) return;
        this.clock.clearTimeout(timer);
        unsubscribe();
        resolve();
      });
    });
  }
}
