/**
 * When each peer was last heard from. On the leader every member answers
 * each heartbeat, so one heard from within an election timeout is started:
 * what the strict reconfiguration check counts.
 */
import type { NodeId } from "@raftkv/raft";

export class PeerActivity {
  private readonly lastHeard = new Map<NodeId, number>();

  constructor(
    /** How recently a peer must have been heard from to count as active. */
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  heard(peer: NodeId): void {
    this.lastHeard.set(peer, this.now());
  }

  /** When the peer was last heard from (ms since the epoch), if ever. */
  lastHeardAt(peer: NodeId): number | undefined {
    return this.lastHeard.get(peer);
  }

  isActive(peer: NodeId): boolean {
    const last = this.lastHeard.get(peer);
    return last !== undefined && this.now() - last <= this.windowMs;
  }
}
