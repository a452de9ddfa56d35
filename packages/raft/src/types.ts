/**
 * The vocabulary of the Raft core: entries, persistent state, configurations,
 * snapshots and the messages peers exchange. Plain data only, so that every
 * other package (WAL, transport, server) can store or ship these as they are.
 */

/** A member id. 0 is reserved for "nobody" (no vote, no known leader). */
export type NodeId = number;
export const NONE: NodeId = 0;

export enum EntryType {
  /** Application data (or the empty no-op a new leader appends). */
  Normal = 0,
  /** A membership change; `data` is an encoded {@link ConfChange}. */
  ConfChange = 1,
}

export interface Entry {
  readonly term: number;
  readonly index: number;
  readonly type: EntryType;
  readonly data: Uint8Array;
}

/** What must be on disk before a vote or an append acknowledgement leaves. */
export interface HardState {
  readonly term: number;
  readonly vote: NodeId;
  readonly commit: number;
}

export const EMPTY_HARD_STATE: HardState = Object.freeze({ term: 0, vote: NONE, commit: 0 });

/** Membership: voters decide; learners only receive the log. */
export interface ConfState {
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
}

export enum ConfChangeType {
  AddNode = 0,
  RemoveNode = 1,
  AddLearner = 2,
  /** Turns a learner into a voter. */
  PromoteLearner = 3,
}

/** One membership change; raftkv changes membership one member at a time. */
export interface ConfChange {
  readonly type: ConfChangeType;
  readonly nodeId: NodeId;
  /** Opaque to raft: the server puts the member's name and URLs here. */
  readonly context?: Uint8Array;
}

/** A membership change the core took in when it was applied, with the configuration after it. */
export interface AppliedConfChange {
  readonly index: number;
  readonly change: ConfChange;
  readonly conf: ConfState;
}

export interface SnapshotMeta {
  readonly index: number;
  readonly term: number;
  readonly conf: ConfState;
}

export interface Snapshot {
  readonly meta: SnapshotMeta;
  /** Opaque to raft: the state machine's image, or a handle the server resolves. */
  readonly data: Uint8Array;
}

export enum MessageType {
  /** Local: a proposal, forwarded by a follower to its leader. */
  Prop = 0,
  App = 1,
  AppResp = 2,
  Vote = 3,
  VoteResp = 4,
  PreVote = 5,
  PreVoteResp = 6,
  Heartbeat = 7,
  HeartbeatResp = 8,
  Snap = 9,
  TimeoutNow = 10,
  ReadIndex = 11,
  ReadIndexResp = 12,
  TransferLeader = 13,
}

/**
 * One message between peers. A single flat shape keeps encoding simple and
 * fast; each type documents which fields it uses in `raft.ts`.
 */
export interface Message {
  readonly type: MessageType;
  readonly from: NodeId;
  readonly to: NodeId;
  readonly term: number;
  /** App: term of the entry before `entries`; AppResp reject: term at the hint. */
  readonly logTerm: number;
  /** App: index of the entry before `entries`; AppResp: index acknowledged or rejected. */
  readonly index: number;
  readonly entries: readonly Entry[];
  readonly commit: number;
  readonly reject: boolean;
  /** AppResp reject: the follower's best guess of where the logs match. */
  readonly rejectHint: number;
  readonly snapshot?: Snapshot;
  /** Heartbeats and ReadIndex: the read round or request this message belongs to. */
  readonly context?: Uint8Array;
}

/** A linearizable read: `index` must be applied before the read is served. */
export interface ReadState {
  readonly index: number;
  readonly context: Uint8Array;
}

export enum Role {
  Follower = "follower",
  PreCandidate = "pre-candidate",
  Candidate = "candidate",
  Leader = "leader",
}
