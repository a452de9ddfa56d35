/** When a request that needs a leader waits for one, and when it is told 'no leader' at once. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { NodeId } from "@raftkv/raft";
import { isEtcdError } from "../src/errors.js";
import { LeaderState, type LeaderSource } from "../src/leader-state.js";

class FakeSource implements LeaderSource {
  readonly self = 1;
  current: NodeId = 0;
  readonly connected = new Set<NodeId>();
  private readonly listeners = new Set<(leader: NodeId) => void>();

  leader(): NodeId {
    return this.current;
  }
  voters(): readonly NodeId[] {
    return [1, 2, 3];
  }
  reachable(peer: NodeId): boolean {
    return this.connected.has(peer);
  }
  onLeaderChange(listener: (leader: NodeId) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  elect(leader: NodeId): void {
    this.current = leader;
    for (const listener of [...this.listeners]) listener(leader);
  }
  get listening(): number {
    return this.listeners.size;
  }
}

const NEVER_MS = 600_000;
const noLeader = (error: unknown) => isEtcdError(error, "noLeader");

describe("leader state", () => {
  test("with a leader, a request goes ahead", async () => {
    const source = new FakeSource();
    source.current = 2;
    await new LeaderState(source, NEVER_MS).whenKnown();
  });

  test("cut off from a quorum, it is told 'no leader' at once, without waiting for an election", async () => {
    const source = new FakeSource();
    const state = new LeaderState(source, NEVER_MS);
    assert.equal(state.canReachQuorum(), false);
    await assert.rejects(state.whenKnown(), noLeader);
    assert.equal(source.listening, 0);
  });

  test("during an election it can win, it waits for the outcome", async () => {
    const source = new FakeSource();
    source.connected.add(3);
    const state = new LeaderState(source, NEVER_MS);
    assert.equal(state.canReachQuorum(), true);
    const waiting = state.whenKnown();
    source.elect(0);
    source.elect(3);
    await waiting;
    assert.equal(source.listening, 0);
  });

  test("an election that does not end within the wait ends the request with 'no leader'", async () => {
    const source = new FakeSource();
    source.connected.add(2).add(3);
    await assert.rejects(new LeaderState(source, 20).whenKnown(), noLeader);
    assert.equal(source.listening, 0);
  });
});
