export {
  defaultConfig,
  parseInitialCluster,
  parseAutoCompaction,
  parseDurationMs,
  parseUrl,
  memberIdOf,
  clusterIdOf,
  TICK_MS,
  UNSAFE_BEHAVIOURS,
  type NodeConfig,
  type Endpoint,
  type UnsafeBehaviour,
} from "./config.js";
export { RaftkvError, GrpcCode, etcdError, type EtcdErrorName } from "./errors.js";
export { startNode, type RaftkvNode, type StartOptions } from "./node.js";
export { restoreSnapshot, snapshotStatus, type RestoreOptions, type SnapshotStatus } from "./restore.js";
