/**
 * A transport in a process of its own, for the test that kills a peer:
 * argv[2] is `{ clusterId, memberId, peers: [[id, port], ...] }`; the bound
 * port is reported to the parent over IPC.
 */
import type { NodeId } from "@raftkv/raft";
import { Transport } from "../../src/index.js";

interface PeerProcessConfig {
  readonly clusterId: number;
  readonly memberId: NodeId;
  readonly peers: readonly [NodeId, number][];
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
