export * from "./types.js";
export { RaftNode, bootstrapLog, type FoundingMember, type Ready, type SoftState, type Status } from "./node.js";
export { ProposalDroppedError, type ProposalPosition, type RaftConfig } from "./raft.js";
export { InvariantViolation } from "./assert.js";
export { MemoryStorage, CompactedError, SnapshotUnavailableError, type Storage } from "./storage.js";
export { ProgressState } from "./tracker/progress.js";
export { mostCaughtUp } from "./tracker/tracker.js";
export { SeededRng, type Rng } from "./rng.js";
export { encodeConfChange, decodeConfChange, applyConfChange, confChangeError } from "./confchange.js";
