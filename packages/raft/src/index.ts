export * from "./types.js";
export { RaftNode, bootstrapLog, type FoundingMember, type Ready, type SoftState, type Status } from "./node.js";
export { ProposalDroppedError, type ProposalPosition, type RaftConfig } from "./raft.js";
export { MemoryStorage, CompactedError, SnapshotUnavailableError, EMPTY_CONF, entrySize, type Storage } from "./storage.js";
export { ProgressState } from "./progress.js";
export { SeededRng, type Rng } from "./rng.js";
export { InvariantViolation, invariant } from "./assert.js";
export { encodeConfChange, decodeConfChange, applyConfChange, confChangeError } from "./confchange.js";
export { majority, committedIndex } from "./quorum.js";
