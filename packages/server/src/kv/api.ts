/**
 * The member's request API, in etcd v3's terms (camelCase, bytes as
 * Uint8Array, int64 as number). The HTTP plugins translate JSON to and from
 * these types; the services behind them (src/services) propose writes
 * through Raft and serve reads from the MVCC store. Errors are thrown as
 * RaftkvError with etcd's messages.
 */
import type { ResponseHeader, StatusResponse } from "@raftkv/client";
import type { CompareResult, CompareTarget, KeyValue, SortOrder, SortTarget, WatchEvent } from "@raftkv/mvcc";
import type { AlarmMember, AlarmType } from "../alarms.js";
import type { Member } from "../members.js";

/** The header and a member's status are the client's shapes too, declared once there. */
export type { ResponseHeader, StatusResponse };

/** Stored key-values, sort and compare vocabularies are the store's own. */
export type { KeyValue, SortOrder, SortTarget, CompareResult, CompareTarget } from "@raftkv/mvcc";

export interface RangeRequest {
  readonly key: Uint8Array;
  /** Empty: the key alone. One zero byte: every key from `key` on. Else [key, rangeEnd). */
  readonly rangeEnd: Uint8Array;
  readonly limit: number;
  /** 0: the current revision. */
  readonly revision: number;
  readonly sortOrder: SortOrder;
  readonly sortTarget: SortTarget;
  /** Served from local state without a ReadIndex round: may be stale. */
  readonly serializable: boolean;
  readonly keysOnly: boolean;
  readonly countOnly: boolean;
  readonly minModRevision: number;
  readonly maxModRevision: number;
  readonly minCreateRevision: number;
  readonly maxCreateRevision: number;
}

export interface RangeResponse {
  readonly header: ResponseHeader;
  readonly kvs: readonly KeyValue[];
  readonly more: boolean;
  readonly count: number;
}

export interface PutRequest {
  readonly key: Uint8Array;
  readonly value: Uint8Array;
  readonly lease: number;
  readonly prevKv: boolean;
  readonly ignoreValue: boolean;
  readonly ignoreLease: boolean;
}

export interface PutResponse {
  readonly header: ResponseHeader;
  readonly prevKv?: KeyValue;
}

export interface DeleteRangeRequest {
  readonly key: Uint8Array;
  readonly rangeEnd: Uint8Array;
  readonly prevKv: boolean;
}

export interface DeleteRangeResponse {
  readonly header: ResponseHeader;
  readonly deleted: number;
  readonly prevKvs: readonly KeyValue[];
}

export interface Compare {
  readonly result: CompareResult;
  readonly target: CompareTarget;
  readonly key: Uint8Array;
  readonly rangeEnd: Uint8Array;
  /** The operand for the target: a number for VERSION/CREATE/MOD/LEASE, bytes for VALUE. */
  readonly operand: number | Uint8Array;
}

export type RequestOp =
  | { readonly range: RangeRequest }
  | { readonly put: PutRequest }
  | { readonly deleteRange: DeleteRangeRequest }
  | { readonly txn: TxnRequest };

export type ResponseOp =
  | { readonly range: RangeResponse }
  | { readonly put: PutResponse }
  | { readonly deleteRange: DeleteRangeResponse }
  | { readonly txn: TxnResponse };

export interface TxnRequest {
  readonly compare: readonly Compare[];
  readonly success: readonly RequestOp[];
  readonly failure: readonly RequestOp[];
}

export interface TxnResponse {
  readonly header: ResponseHeader;
  readonly succeeded: boolean;
  readonly responses: readonly ResponseOp[];
}

/** One change, as watchers see it. */
export type Event = WatchEvent;

export interface LeaseGrantResponse {
  readonly header: ResponseHeader;
  readonly id: number;
  readonly ttl: number;
}

export interface LeaseTimeToLiveResponse {
  readonly header: ResponseHeader;
  readonly id: number;
  /** Seconds left; -1 when the lease does not exist (etcd's convention). */
  readonly ttl: number;
  readonly grantedTtl: number;
  readonly keys: readonly Uint8Array[];
}

export interface WatchRequest {
  readonly key: Uint8Array;
  readonly rangeEnd: Uint8Array;
  /** 0: from the next change on. */
  readonly startRevision: number;
  readonly prevKv: boolean;
  readonly noPut: boolean;
  readonly noDelete: boolean;
  readonly progressNotify: boolean;
  /** A front end's delivery shared by its watches of the same interest (see SharedDelivery); the watch's events then go through `deliver` only until it is live (its progress notifications always do). */
  readonly shared?: SharedWatch<unknown>;
}

/**
 * How a front end takes one interest's live events for many of its watches
 * in one call, rather than a call per watch (a gRPC stream's thousand
 * watches of one key). `Member` is the front end's own handle of a watch.
 */
export interface SharedDelivery<Member> {
  /** Events with their header for the first `count` of `members` (the array is only lent for the call). */
  deliver(members: readonly Member[], count: number, header: ResponseHeader, events: readonly Event[]): void;
}

export interface SharedWatch<Member> {
  readonly delivery: SharedDelivery<Member>;
  readonly member: Member;
}

/** What a watch delivers, in revision order. */
export type WatchUpdate =
  | { readonly kind: "events"; readonly header: ResponseHeader; readonly events: readonly Event[] }
  /** Nothing changed for a while: the store is at `header.revision`. */
  | { readonly kind: "progress"; readonly header: ResponseHeader }
  /** The start revision was compacted: the watch ends; re-list from a current revision. */
  | { readonly kind: "compacted"; readonly header: ResponseHeader; readonly compactRevision: number };

export interface Watch {
  /** Ends the watch; no update is delivered after it returns. */
  cancel(): void;
}

export type MemberInfo = Member;

export type { AlarmMember, AlarmType } from "../alarms.js";

/** etcd's AlarmRequest; alarm NONE with GET lists every alarm. */
export interface AlarmRequest {
  readonly action: "GET" | "ACTIVATE" | "DEACTIVATE";
  readonly memberId: number;
  readonly alarm: AlarmType | "NONE";
}

export interface AlarmResponse {
  readonly header: ResponseHeader;
  /** GET: the alarms asked for; ACTIVATE and DEACTIVATE: the alarm changed, if any. */
  readonly alarms: readonly AlarmMember[];
}

/**
 * A write may carry a client-chosen request id (1 to 128 characters): within
 * the store's window of the last 100,000 such ids, a retry with the same id
 * is not applied again and gets the first attempt's outcome.
 */
export interface WriteOptions {
  readonly requestId?: string;
  /**
   * The auth revision the write's permissions were checked at (set by the
   * auth guard): applied only if auth is off or unchanged since, else it
   * fails with etcd's "revision of auth store is old".
   */
  readonly authRevision?: number;
}

/** Keys, leases and watches: all the recipes and the native API need. */
export interface KvApi {
  range(request: RangeRequest): Promise<RangeResponse>;
  put(request: PutRequest, options?: WriteOptions): Promise<PutResponse>;
  deleteRange(request: DeleteRangeRequest, options?: WriteOptions): Promise<DeleteRangeResponse>;
  txn(request: TxnRequest, options?: WriteOptions): Promise<TxnResponse>;
  compact(revision: number, options?: WriteOptions): Promise<{ header: ResponseHeader }>;

  leaseGrant(ttl: number, id: number, options?: WriteOptions): Promise<LeaseGrantResponse>;
  leaseRevoke(id: number, options?: WriteOptions): Promise<{ header: ResponseHeader }>;
  /** Renews a lease; resolves with its TTL, or throws leaseNotFound. */
  leaseKeepAlive(id: number): Promise<LeaseGrantResponse>;
  leaseTimeToLive(id: number, keys: boolean): Promise<LeaseTimeToLiveResponse>;
  leaseLeases(): Promise<{ header: ResponseHeader; leases: readonly number[] }>;

  /** Starts a watch; `deliver` is called in order; the first call may carry history. */
  watch(request: WatchRequest, deliver: (update: WatchUpdate) => void): Promise<Watch>;

  /** A header for replies that carry nothing else. */
  header(): ResponseHeader;
  /** The header of a watch progress response: every event up to its revision is handed to the watches first. */
  watchProgressHeader(): ResponseHeader;
}

/** Membership, decided by the leader. */
export interface ClusterApi {
  memberList(): Promise<{ header: ResponseHeader; members: readonly MemberInfo[] }>;
  memberAdd(peerUrls: readonly string[], isLearner: boolean): Promise<{ header: ResponseHeader; member: MemberInfo; members: readonly MemberInfo[] }>;
  memberRemove(id: number): Promise<{ header: ResponseHeader; members: readonly MemberInfo[] }>;
  memberUpdate(id: number, peerUrls: readonly string[]): Promise<{ header: ResponseHeader; members: readonly MemberInfo[] }>;
  memberPromote(id: number): Promise<{ header: ResponseHeader; members: readonly MemberInfo[] }>;
  /**
   * The leader's client URL when another member leads: membership changes
   * and leadership transfers are decided there, so requests for them are
   * forwarded. During an election it waits for the outcome (as writes do);
   * undefined when this member leads.
   */
  leaderClientUrl(): Promise<string | undefined>;
}

export interface MaintenanceApi {
  status(): Promise<StatusResponse>;
  /** etcd's HashKV: a hash of the keys and values up to `revision` (0: current). */
  hashKv(revision: number): Promise<{ header: ResponseHeader; hash: number; compactRevision: number }>;
  /** A snapshot of this member's state, as a restorable file streamed in chunks. */
  snapshot(): Promise<{ header: ResponseHeader; size: number; bytes: AsyncIterable<Uint8Array> }>;
  /** Hands leadership to `target`; resolves once it leads. Only the leader may be asked (see leaderClientUrl). */
  moveLeader(target: number): Promise<{ header: ResponseHeader }>;
  alarm(request: AlarmRequest): Promise<AlarmResponse>;
  /** etcd's Defragment: gives the space of dead entries back to the filesystem, without stopping the member. */
  defragment(): Promise<{ header: ResponseHeader }>;
}

/** The services a front end (the etcd gateway, the native API, next gRPC) encodes for. */
export interface MemberApis {
  readonly kv: KvApi;
  readonly cluster: ClusterApi;
  readonly maintenance: MaintenanceApi;
}
