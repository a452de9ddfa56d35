/**
 * The peer network of a simulated cluster: each message is lost, or arrives
 * after a delay drawn from the seed (so messages overtake each other), and
 * nothing crosses a partition. Members attach while they run; what arrives
 * for a member that is down is lost, as with a dropped connection.
 */
import type { Message, NodeId, SeededRng } from "@raftkv/raft";
import type { Scheduler } from "./scheduler.js";

export interface NetworkFaults {
  /** The chance that a message is lost. */
  readonly dropRate: number;
  readonly minDelayMs: number;
  readonly maxDelayMs: number;
}

/** How a member takes a snapshot sent to it: the file's chunks, then the message that announced it. */
export type SnapshotReceiver = (message: Message, chunks: AsyncIterable<Uint8Array>) => Promise<void>;

export class SimNetwork {
  private readonly endpoints = new Map<NodeId, (messages: readonly Message[]) => void>();
  private readonly snapshotReceivers = new Map<NodeId, SnapshotReceiver>();
  /** Directed pairs `from>to` that nothing passes. */
  private readonly cut = new Set<string>();

  constructor(
    private readonly scheduler: Scheduler,
    private readonly rng: SeededRng,
    private readonly faults: NetworkFaults,
  ) {}

  attach(id: NodeId, receive: (messages: readonly Message[]) => void, receiveSnapshot: SnapshotReceiver): void {
    this.endpoints.set(id, receive);
    this.snapshotReceivers.set(id, receiveSnapshot);
  }

  detach(id: NodeId): void {
    this.endpoints.delete(id);
    this.snapshotReceivers.delete(id);
  }

  /** A snapshot travels on a connection of its own, whole or not at all: delivered if the two are connected. */
  async sendSnapshot(from: NodeId, message: Message, chunks: AsyncIterable<Uint8Array>): Promise<{ delivered: boolean }> {
    const receive = this.snapshotReceivers.get(message.to);
    if (!this.connected(from, message.to) || !receive) return { delivered: false };
    await receive(message, chunks);
    return { delivered: true };
  }

  /** Whether `from` is connected to `to`: neither is down and no partition is between them. */
  connected(from: NodeId, to: NodeId): boolean {
    return this.endpoints.has(from) && this.endpoints.has(to) && !this.cut.has(`${from}>${to}`);
  }

  send(from: NodeId, messages: readonly Message[]): void {
    for (const message of messages) {
      if (!this.connected(from, message.to) || this.rng.nextFloat() < this.faults.dropRate) continue;
      const { minDelayMs, maxDelayMs } = this.faults;
      const delay = minDelayMs + this.rng.nextInt(maxDelayMs - minDelayMs + 1);
      this.scheduler.after("network", delay, () => {
        if (this.cut.has(`${from}>${message.to}`)) return;
        this.endpoints.get(message.to)?.([message]);
      });
    }
  }

  /** Splits the members into groups that reach only their own group. */
  partition(groups: readonly (readonly NodeId[])[]): void {
    this.heal();
    for (const group of groups) {
      for (const other of groups) {
        if (other === group) continue;
        for (const from of group) for (const to of other) this.cut.add(`${from}>${to}`);
      }
    }
  }

  heal(): void {
    this.cut.clear();
  }
}
