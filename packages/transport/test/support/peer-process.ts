/**
 * A transport in a process of its own, for the test that kills a peer:
 * argv[2] is `{ clusterId, memberId, peers: [[id, port], ...], stallMs? }`; the
 * bound port is reported to the parent over IPC. With `stallMs` the process
 * then holds its event loop that long, as a member compiling its HTTP routes
 * right after its transport started does.
 */
import type { NodeId } from "@raftkv/raft";
import { Transport } from "../../src/index.js";

interface PeerProcessConfig {
  readonly clusterId: number;
  readonly memberId: NodeId;
  readonly peers: readonly [NodeId, number][];
  readonly stallMs?: number;
}

const config = JSON.parse(process.argv[2] ?? "{}") as PeerProcessConfig;
const transport = new Transport({
  clusterId: config.clusterId,
  memberId: config.memberId,
  listen: { host: "127.0.0.1", port: 0 },
  peers: new Map(config.peers.map(([id, port]) => [id, { host: "127.0.0.1", port }])),
  onMessages: () => {},
});
await transport.start();
process.send?.({ port: transport.address().port });
const stallUntil = performance.now() + (config.stallMs ?? 0);
while (performance.now() < stallUntil);
