export { Transport, type TransportOptions, type TransportStats } from "./transport.js";
export type { PeerStats } from "./peer-link.js";
export type { PeerAddress } from "./framed-socket.js";
export type { SnapshotHandler, SnapshotOutcome } from "./snapshot.js";
export { isPeerDown, isRemovalRefusal, MEMBER_REMOVED_REFUSAL, type ConnectionFailure, type FailureCause } from "./failure.js";
export type { BackoffPolicy } from "./backoff.js";
export type { Logger } from "./logger.js";
export { PROTOCOL_VERSION } from "./frames.js";
export type { PeerCertificates, PeerTls } from "./security.js";
