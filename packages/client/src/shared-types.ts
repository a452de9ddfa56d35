/**
 * The shapes the server and this client both use, declared once: a member
 * of the cluster, a response header, a member's status, and the JSON bodies
 * of the native /v1 key-value API. The
 * server imports them type-only, so it gains no runtime dependency and the
 * client stays free of server code.
 */

export interface Member {
  readonly id: number;
  /** Empty until the member has started and published its name. */
  readonly name: string;
  readonly peerUrls: readonly string[];
  readonly clientUrls: readonly string[];
  readonly isLearner: boolean;
}

/** etcd's ResponseHeader, decoded. */
export interface ResponseHeader {
  readonly clusterId: number;
  /** The member that answered. */
  readonly memberId: number;
  /** The store's revision when the request was served. */
  readonly revision: number;
  readonly raftTerm: number;
}

/** etcd's StatusResponse, decoded: one member's view of itself. */
export interface StatusResponse {
  readonly header: ResponseHeader;
  readonly version: string;
  readonly dbSize: number;
  /** raftkv keeps no free pages: always `dbSize`. */
  readonly dbSizeInUse: number;
  /** The member this one believes leads (0: none). */
  readonly leader: number;
  readonly raftIndex: number;
  readonly raftTerm: number;
  readonly raftAppliedIndex: number;
  readonly isLearner: boolean;
  readonly errors: readonly string[];
}

/** A key-value as the native API lists it: text, or base64 with `encoding=base64`. */
export interface NativeKv {
  readonly key: string;
  readonly value: string;
  readonly create_revision: number;
  readonly mod_revision: number;
  readonly version: number;
  readonly lease: number;
}

/** GET /v1/kv/<prefix>?prefix */
export interface NativeKvList {
  readonly revision: number;
  readonly count: number;
  readonly more: boolean;
  readonly kvs: readonly NativeKv[];
}

/** PUT /v1/kv/<key> */
export interface NativePutReply {
  readonly revision: number;
}

/** DELETE /v1/kv/<key> */
export interface NativeDeleteReply {
  readonly deleted: number;
  readonly revision: number;
}
