/**
 * Proposals committed per second through a 3-node cluster in memory: no
 * disk, no network, just the Raft core and its Ready/Advance loop. This is
 * the ceiling the real node can approach. Run: pnpm --filter @raftkv/raft bench
 */
import { MemoryStorage, RaftNode, Role, SeededRng, bootstrapLog, type Message, type NodeId } from "../src/index.js";

interface Peer {
  readonly node: RaftNode;
  readonly storage: MemoryStorage;
  applied: number;
}

function startCluster(size: number): Map<NodeId, Peer> {
  const ids = Array.from({ length: size }, (_, i) => i + 1);
  const boot = bootstrapLog(ids);
  const peers = new Map<NodeId, Peer>();
  for (const id of ids) {
    const storage = new MemoryStorage();
    storage.append(boot.entries);
    storage.setHardState(boot.hardState);
    const node = new RaftNode({ id, storage, rng: new SeededRng(id), maxInflightMsgs: 256 });
    peers.set(id, { node, storage, applied: 0 });
  }
  return peers;
}

/** Runs every node's loop until no node has work; returns the messages exchanged. */
function settle(peers: Map<NodeId, Peer>): number {
  let messages = 0;
  let mail: Message[] = [];
  for (let busy = true; busy; ) {
    busy = false;
    for (const peer of peers.values()) {
      if (!peer.node.hasReady()) continue;
      busy = true;
      const ready = peer.node.ready();
      mail.push(...ready.messages);
      peer.storage.append(ready.entries);
      if (ready.hardState) peer.storage.setHardState(ready.hardState);
      peer.applied += ready.committedEntries.length;
      peer.node.advance();
    }
    messages += mail.length;
    const delivering = mail;
    mail = [];
    for (const message of delivering) peers.get(message.to)?.node.step(message);
    if (delivering.length > 0) busy = true;
  }
  return messages;
}

function leaderOf(peers: Map<NodeId, Peer>): RaftNode {
  for (let tick = 0; tick < 1000; tick++) {
    for (const peer of peers.values()) if (peer.node.status().role === Role.Leader) return peer.node;
    for (const peer of peers.values()) peer.node.tick();
    settle(peers);
  }
  throw new Error("no leader");
}

function measure(batch: number, payloadBytes: number, seconds: number): { perSecond: number; messagesPerProposal: number } {
  const peers = startCluster(3);
  const leader = leaderOf(peers);
  const payload = new Uint8Array(payloadBytes);
  const deadline = performance.now() + seconds * 1000;
  let proposals = 0;
  let messages = 0;
  const started = performance.now();
  const proposalBatch = Array.from({ length: batch }, () => payload);
  while (performance.now() < deadline) {
    leader.propose(...proposalBatch);
    proposals += batch;
    messages += settle(peers);
  }
  const elapsed = (performance.now() - started) / 1000;
  // A heartbeat tells followers the final commit index.
  leader.tick();
  settle(peers);
  const committed = Math.min(...[...peers.values()].map((peer) => peer.applied));
  if (committed < proposals) throw new Error(`only ${committed} of ${proposals} applied everywhere`);
  return { perSecond: proposals / elapsed, messagesPerProposal: messages / proposals };
}

const seconds = Number(process.env.BENCH_SECONDS ?? 3);
console.log(`3-node in-memory cluster, ${seconds} s per row`);
console.log("batch  payload  proposals/s  messages/proposal");
for (const batch of [1, 16, 256]) {
  const { perSecond, messagesPerProposal } = measure(batch, 256, seconds);
  console.log(
    `${String(batch).padStart(5)}  ${"256 B".padStart(7)}  ${Math.round(perSecond).toLocaleString("en-US").padStart(11)}  ${messagesPerProposal.toFixed(2).padStart(17)}`,
  );
}
