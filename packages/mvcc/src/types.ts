/**
 * The vocabulary of the store: etcd v3's requests, responses and events, with
 * bytes as Uint8Array and int64 fields as JS numbers (revisions, versions and
 * lease ids stay far below 2^53). Field names are etcd's in camelCase; enum
 * values are etcd's names, as its JSON gateway spells them.
 */
import type { MvccError } from "./errors.js";

export type Bytes = Uint8Array;

export interface KeyValue {
  readonly key: Bytes;
  readonly value: Bytes;
  readonly createRevision: number;
  readonly modRevision: number;
  /** 1 for the first put after creation or deletion; reset by a delete. */
  readonly version: number;
  /** 0 when the key is attached to no lease. */
  readonly lease: number;
}

export type SortOrder = "NONE" | "ASCEND" | "DESCEND";
export type SortTarget = "KEY" | "VERSION" | "CREATE" | "MOD" | "VALUE";

/**
 * rangeEnd follows etcd: absent or empty for the single key `key`; one zero
 * byte for every key >= key; otherwise the exclusive upper bound.
 */
export interface RangeRequest {
  readonly key: Bytes;
  readonly rangeEnd?: Bytes;
  /** 0 or less: no limit. */
  readonly limit?: number;
  /** 0 or less: the current revision. */
  readonly revision?: number;
  readonly sortOrder?: SortOrder;
  readonly sortTarget?: SortTarget;
  readonly keysOnly?: boolean;
  readonly countOnly?: boolean;
  readonly minModRevision?: number;
  readonly maxModRevision?: number;
  readonly minCreateRevision?: number;
  readonly maxCreateRevision?: number;
}

export interface PutRequest {
  readonly key: Bytes;
  readonly value?: Bytes;
  /** 0 or absent detaches the key from its lease. */
  readonly lease?: number;
  readonly prevKv?: boolean;
  readonly ignoreValue?: boolean;
  readonly ignoreLease?: boolean;
}

export interface DeleteRangeRequest {
  readonly key: Bytes;
  readonly rangeEnd?: Bytes;
  readonly prevKv?: boolean;
}

export type CompareTarget = "VERSION" | "CREATE" | "MOD" | "VALUE" | "LEASE";
export type CompareResult = "EQUAL" | "GREATER" | "LESS" | "NOT_EQUAL";

/**
 * Compares `target` of every key in [key, rangeEnd) against the field named
 * after the target (version, createRevision, modRevision, value or lease; an
 * absent field is 0 or empty, as in etcd's protobuf). GREATER means the
 * stored value is greater than the given one.
 */
export interface Compare {
  readonly key: Bytes;
  readonly rangeEnd?: Bytes;
  readonly target: CompareTarget;
  readonly result: CompareResult;
  readonly version?: number;
  readonly createRevision?: number;
  readonly modRevision?: number;
  readonly value?: Bytes;
  readonly lease?: number;
}

export interface TxnRequest {
  readonly compare?: readonly Compare[];
  readonly success?: readonly TxnOp[];
  readonly failure?: readonly TxnOp[];
}

export type RangeOp = { readonly op: "range" } & RangeRequest;
export type PutOp = { readonly op: "put" } & PutRequest;
export type DeleteRangeOp = { readonly op: "deleteRange" } & DeleteRangeRequest;
export type TxnRequestOp = { readonly op: "txn" } & TxnRequest;
export type TxnOp = RangeOp | PutOp | DeleteRangeOp | TxnRequestOp;

export interface CompactOp {
  readonly op: "compact";
  readonly revision: number;
}

export interface LeaseGrantOp {
  readonly op: "leaseGrant";
  /** Seconds; raised to the store's minimum lease TTL like etcd does. */
  readonly ttl: number;
  /** 0 or absent: the store derives an id from the raft index. */
  readonly id?: number;
}

export interface LeaseRevokeOp {
  readonly op: "leaseRevoke";
  readonly id: number;
  /**
   * Set when the leader revokes a lease it found expired: the raft index its
   * view of the leases was current to. A lease renewed at a later index
   * (the renewal was in the log, not yet applied) is not revoked. A
   * client's revoke has none and always applies.
   */
  readonly asOf?: number;
}

/** A keep-alive: the lease has its granted TTL again, from the index this applies at. */
export interface LeaseRenewOp {
  readonly op: "leaseRenew";
  readonly id: number;
}

/** The leader's periodic record of how much time each lease has left. */
export interface LeaseCheckpointOp {
  readonly op: "leaseCheckpoint";
  readonly checkpoints: readonly { readonly id: number; readonly remainingTtl: number }[];
  /**
   * The raft index the leader's view of the leases was current to: a lease
   * renewed at a later index keeps its renewal. Absent in entries written
   * before renewals had an op of their own, which always apply.
   */
  readonly asOf?: number;
}

/** Everything the raft apply loop can hand to the store. */
export type Request = TxnOp | CompactOp | LeaseGrantOp | LeaseRevokeOp | LeaseRenewOp | LeaseCheckpointOp;

/** `revision` is always the revision etcd puts in the response header. */
export interface RangeResponse {
  readonly op: "range";
  readonly revision: number;
  readonly kvs: KeyValue[];
  /** Whether more keys matched than `limit` let through. */
  readonly more: boolean;
  /** Keys in the range at the read revision, before filters and limit. */
  readonly count: number;
}

export interface PutResponse {
  readonly op: "put";
  readonly revision: number;
  readonly prevKv?: KeyValue;
}

export interface DeleteRangeResponse {
  readonly op: "deleteRange";
  readonly revision: number;
  readonly deleted: number;
  /** Filled only when prevKv was asked for. */
  readonly prevKvs: KeyValue[];
}

export interface TxnResponse {
  readonly op: "txn";
  /** For a txn nested in another, 0: etcd leaves its header empty. */
  readonly revision: number;
  readonly succeeded: boolean;
  readonly responses: TxnOpResponse[];
}

export type TxnOpResponse = RangeResponse | PutResponse | DeleteRangeResponse | TxnResponse;

export interface CompactResponse {
  readonly op: "compact";
  readonly revision: number;
}

export interface LeaseGrantResponse {
  readonly op: "leaseGrant";
  readonly revision: number;
  readonly id: number;
  readonly ttl: number;
}

export interface LeaseRevokeResponse {
  readonly op: "leaseRevoke";
  readonly revision: number;
}

export interface LeaseRenewResponse {
  readonly op: "leaseRenew";
  readonly revision: number;
  /** The granted TTL, which the lease has again. */
  readonly ttl: number;
}

export interface LeaseCheckpointResponse {
  readonly op: "leaseCheckpoint";
  readonly revision: number;
}

export type Response = TxnOpResponse | CompactResponse | LeaseGrantResponse | LeaseRevokeResponse | LeaseRenewResponse | LeaseCheckpointResponse;

/** The response type that answers a request type. */
export type ResponseTo<R extends Request> = Extract<Response, { op: R["op"] }>;

/**
 * One change, for watchers. A DELETE's kv holds only the key and the
 * deletion's revision in modRevision, as in etcd.
 */
export interface WatchEvent {
  readonly type: "PUT" | "DELETE";
  readonly kv: KeyValue;
  /** The key's previous live version, when there was one and it is still stored. */
  readonly prevKv?: KeyValue;
}

/** A committed raft entry. Entries with nothing for the store (configuration changes, empty leader entries) carry no request but still advance appliedIndex. */
export interface LogEntry<R extends Request = Request> {
  readonly index: number;
  readonly request?: R;
  /**
   * The client's id for a write it may retry. An entry whose id the store
   * applied within its request id window is not applied again: its result
   * is "duplicate", with the first entry's outcome.
   */
  readonly requestId?: string;
  /**
   * A record the server keeps beside the keyspace (raftkv's auth state),
   * replaced by this entry: written in the same LevelDB batch as the entry's
   * applied index, read back on open and carried in snapshots, so it is as
   * durable and as replicated as the keys. The server decides its bytes
   * from the log alone, as apply must.
   */
  readonly sideRecord?: { readonly name: string; readonly value: Uint8Array };
}

/** How the first entry that carried a client request id ended, without its events: what a retry of it is answered with. */
export type FirstOutcome<R extends Request = Request> =
  | { readonly status: "applied"; readonly index: number; readonly response: ResponseTo<R> }
  | { readonly status: "rejected"; readonly index: number; readonly error: MvccError };

export type ApplyResult<R extends Request = Request> =
  | { readonly status: "applied"; readonly index: number; readonly response: ResponseTo<R>; readonly events: WatchEvent[] }
  | { readonly status: "rejected"; readonly index: number; readonly error: MvccError }
  /** The entry's request id was applied before, within the window: nothing changed. */
  | { readonly status: "duplicate"; readonly index: number; readonly first: FirstOutcome<R> }
  | { readonly status: "ignored"; readonly index: number; readonly reason: "alreadyApplied" | "noRequest" };

export interface LeaseRecord {
  readonly id: number;
  /** The granted TTL in seconds. */
  readonly ttl: number;
  /** The last checkpointed remaining TTL, or the granted TTL when never checkpointed. */
  readonly remainingTtl: number;
  /** The raft index of its grant or latest renewal (0 in records written before this was kept). */
  readonly renewedAt: number;
}

export interface LeaseDetails extends LeaseRecord {
  /** Attached keys, in key order. */
  readonly keys: Bytes[];
}

export interface KeyRangeFilter {
  readonly key: Bytes;
  readonly rangeEnd?: Bytes;
}

export interface EventPage {
  readonly events: WatchEvent[];
  /** Where the next page starts; revision + 1 once the page reached the present. */
  readonly nextRevision: number;
  /** True when no stored event at or after nextRevision exists yet. */
  readonly caughtUp: boolean;
}

export interface HashResult {
  readonly hash: number;
  /** The current revision, as in etcd's HashKV header. */
  readonly revision: number;
  readonly compactRevision: number;
}

export interface StoreStatus {
  readonly revision: number;
  readonly compactRevision: number;
  readonly appliedIndex: number;
  /** Bytes of the LevelDB directory's files. */
  readonly dbSize: number;
  /** Live keys at the current revision. */
  readonly keyCount: number;
  /** Stored revisions of all keys, tombstones included: what compaction shrinks. */
  readonly storedRevisions: number;
  readonly leaseCount: number;
}
