import type { NodeId } from "./types.js";

/** A linearizable read waiting for the leader to confirm it still leads. */
export interface ReadRequest {
  /** The commit index when the read arrived: the read must see at least this. */
  readonly index: number;
  /** Who asked: the leader itself or a follower to answer with a message. */
  readonly from: NodeId;
  readonly context: Uint8Array;
}

interface Round {
  readonly seq: number;
  readonly context: Uint8Array;
  readonly requests: ReadRequest[];
  readonly acks: Set<NodeId>;
}

/**
 * ReadIndex bookkeeping (Raft thesis §6.4), batched: one heartbeat round
 * confirms every read that arrived before the round started. Reads arriving
 * while a round is out wait for the next one, which starts as soon as the
 * current round completes, so a busy leader pays one round per batch.
 */
export class ReadIndexRounds {
  private waiting: ReadRequest[] = [];
  private round: Round | undefined;
  private nextSeq = 1;

  /** The context heartbeats carry while a round is out. */
  roundContext(): Uint8Array | undefined {
    return this.round?.context;
  }

  enqueue(request: ReadRequest): void {
    this.waiting.push(request);
  }

  /** Starts a round with every waiting read, unless one is already out. Returns its context. */
  startRound(leader: NodeId): Uint8Array | undefined {
    if (this.round || this.waiting.length === 0) return undefined;
    const seq = this.nextSeq++;
    const context = encodeSeq(seq);
    this.round = { seq, context, requests: this.waiting, acks: new Set([leader]) };
    this.waiting = [];
    return context;
  }

  /** Records a heartbeat reply; returns the acknowledging set if it belongs to the current round. */
  acknowledge(from: NodeId, context: Uint8Array | undefined): ReadonlySet<NodeId> | undefined {
    if (!this.round || !context || decodeSeq(context) !== this.round.seq) return undefined;
    this.round.acks.add(from);
    return this.round.acks;
  }

  /** Ends the current round, returning the reads it confirmed. */
  completeRound(): ReadRequest[] {
    const confirmed = this.round?.requests ?? [];
    this.round = undefined;
    return confirmed;
  }

  reset(): void {
    this.waiting = [];
    this.round = undefined;
  }
}

function encodeSeq(seq: number): Uint8Array {
  const bytes = new Uint8Array(8);
  new DataView(bytes.buffer).setFloat64(0, seq);
  return bytes;
}

function decodeSeq(bytes: Uint8Array): number | undefined {
  if (bytes.byteLength !== 8) return undefined;
  return new DataView(bytes.buffer, bytes.byteOffset, 8).getFloat64(0);
}
