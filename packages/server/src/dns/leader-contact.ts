/**
 * How long ago this member was last in touch with a leader, which bounds
 * how stale its local state may be (Consul's "last contact"):
 *
 * - the leader is in touch: with checkQuorum (on in raftkv) it steps down
 *   within an election timeout once a quorum stops answering it;
 * - a follower is as fresh as the last message it heard from the member it
 *   last knew as leader (the leader's heartbeats arrive every heartbeat
 *   interval, each carrying the commit index the follower then applies).
 *
 * A member that has never heard from a leader is out of touch.
 */
import type { NodeId } from "@raftkv/raft";

export interface ClusterView {
  readonly self: NodeId;
  /** The leader this member knows now; 0 for none. */
  leader(): NodeId;
  /** When a peer's last message arrived (ms since the epoch), if ever. */
  lastHeardAt(peer: NodeId): number | undefined;
}

export class LeaderContact {
  private lastLeader: NodeId = 0;

  constructor(
    private readonly cluster: ClusterView,
    private readonly now: () => number = Date.now,
  ) {}

  /** Called on every leader change, so contact is measured even if no query came while the leader was known. */
  observe(leader: NodeId): void {
    if (leader !== 0 && leader !== this.cluster.self) this.lastLeader = leader;
  }

  /** Milliseconds since this member was last in touch with a leader; Infinity if never. */
  ageMs(): number {
    const leader = this.cluster.leader();
    if (leader === this.cluster.self) return 0;
    this.observe(leader);
    const heard = this.lastLeader === 0 ? undefined : this.cluster.lastHeardAt(this.lastLeader);
    return heard === undefined ? Infinity : Math.max(0, this.now() - heard);
  }

  hasLeader(): boolean {
    return this.cluster.leader() !== 0;
  }
}
