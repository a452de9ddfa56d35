/**
 * How long ago this member was last in touch with a leader, which bounds
 * how stale its local state may be (Consul's "last contact"):
 *
 * - the leader is in touch while it leads: with checkQuorum (on in raftkv)
 *   it steps down within an election timeout once a quorum stops answering
 *   it, and counts as last in touch when it stepped down;
 * - a follower is as fresh as the last message it heard from the member it
 *   last knew as leader (heartbeats come every heartbeat interval, each
 *   carrying the commit index the follower then applies).
 *
 * A member that has never been in touch with a leader is out of touch.
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
  private known: NodeId = 0;
  /** The last other member known to lead. */
  private lastLeader: NodeId = 0;
  /** When this member last stopped leading. */
  private ledUntil: number | undefined;

  constructor(
    private readonly cluster: ClusterView,
    private readonly now: () => number = Date.now,
  ) {}

  /** Called on every leader change, so that contact is tracked even while no query comes. */
  observe(leader: NodeId): void {
    if (this.known === this.cluster.self && leader !== this.cluster.self) this.ledUntil = this.now();
    this.known = leader;
    if (leader !== 0 && leader !== this.cluster.self) this.lastLeader = leader;
  }

  /** Milliseconds since this member was last in touch with a leader; Infinity if never. */
  ageMs(): number {
    const leader = this.cluster.leader();
    this.observe(leader);
    if (leader === this.cluster.self) return 0;
    const heard = this.lastLeader === 0 ? undefined : this.cluster.lastHeardAt(this.lastLeader);
    const contacts = [heard, this.ledUntil].filter((time): time is number => time !== undefined);
    return contacts.length === 0 ? Infinity : Math.max(0, this.now() - Math.max(...contacts));
  }

  hasLeader(): boolean {
    return this.cluster.leader() !== 0;
  }
}
