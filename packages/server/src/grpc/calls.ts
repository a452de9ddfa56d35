/**
 * What every gRPC call shares: etcd's errors as gRPC statuses, clientv3's
 * require-leader metadata, and the idempotency key as a write's request id.
 */
import type { EventEmitter } from "node:events";
import * as grpc from "@grpc/grpc-js";
import { MAX_REQUEST_ID_LENGTH } from "@raftkv/mvcc";
import { RaftkvError, etcdError, invalidArgument } from "../errors.js";
import type { WriteOptions } from "../kv/api.js";

/** Set by clientv3's WithRequireLeader: fail at once rather than wait for an election. */
const REQUIRE_LEADER_KEY = "hasleader";
const IDEMPOTENCY_KEY = "idempotency-key";

/** A thrown error as the status etcd would send: its own code and message, else Internal. */
export function toServiceError(error: unknown): Partial<grpc.StatusObject> {
  if (error instanceof RaftkvError) return { code: error.grpcCode as number as grpc.status, details: error.message };
  return { code: grpc.status.INTERNAL, details: error instanceof Error ? error.message : String(error) };
}

/** etcd's check for requests that require a leader; throws "no leader" (Unavailable) without one. */
export function assertLeaderIfRequired(metadata: grpc.Metadata, hasLeader: () => boolean): void {
  if (metadata.get(REQUIRE_LEADER_KEY)[0] === "true" && !hasLeader()) throw etcdError("noLeader");
}

/** What admission sees of a call: its metadata and, on a TLS connection, the client's verified certificate. */
export type CallContext = Pick<grpc.ServerUnaryCall<unknown, unknown>, "metadata" | "getAuthContext">;

/** What every call passes before its handler runs: throws the status that refuses it, else gives what the handler works with. */
export type Admission<Scope> = (call: CallContext) => Promise<Scope>;

/** The `idempotency-key` metadata as the write's request id, under the same rules as the HTTP header. */
export function writeOptionsOf(metadata: grpc.Metadata): WriteOptions {
  const key = metadata.get(IDEMPOTENCY_KEY)[0];
  if (key === undefined) return {};
  const text = String(key);
  if (text.length === 0 || text.length > MAX_REQUEST_ID_LENGTH) {
    throw invalidArgument(`metadata "${IDEMPOTENCY_KEY}" must be 1 to ${MAX_REQUEST_ID_LENGTH} characters`);
  }
  return { requestId: text };
}

/** What a handler knows of its call besides the request and its scope. */
export interface CallInfo {
  readonly metadata: grpc.Metadata;
  /** Aborts when the client cancels the call or goes away. */
  readonly signal: AbortSignal;
}

export type UnaryHandler<Req, Res, Scope> = (request: Req, scope: Scope, call: CallInfo) => Promise<Res>;

/** A unary method: admission, then the handler with what admission gave; a rejection becomes etcd's status. */
export function unary<Req, Res, Scope>(admit: Admission<Scope>, handle: UnaryHandler<Req, Res, Scope>): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    const answer = async (): Promise<Res> => handle(call.request, await admit(call), new UnaryCallInfo(call));
    answer().then(
      (response) => callback(null, response),
      (error: unknown) => callback(toServiceError(error)),
    );
  };
}

/**
 * The signal is made only for a handler that reads it (Lock and Campaign
 * wait on others): grpc-js reports every call as cancelled once its stream
 * closes, answered or not, and aborting a signal builds a DOMException, so a
 * signal per call cost every Put and Range about 5 % of the leader's CPU. A
 * class, because an object literal with a getter is slow to make (1.5 % of
 * a put-loaded leader's time went to making them).
 */
class UnaryCallInfo implements CallInfo {
  private made: AbortSignal | undefined;

  constructor(private readonly call: grpc.ServerUnaryCall<unknown, unknown>) {}

  get metadata(): grpc.Metadata {
    return this.call.metadata;
  }

  get signal(): AbortSignal {
    this.made ??= abortWhenCancelled(this.call);
    return this.made;
  }
}

/** A signal that aborts when the client cancels the call or goes away (or already has). */
export function abortWhenCancelled(call: Pick<EventEmitter, "once"> & { readonly cancelled: boolean }): AbortSignal {
  const controller = new AbortController();
  if (call.cancelled) controller.abort();
  else call.once("cancelled", () => controller.abort());
  return controller.signal;
}

type ServerStream = grpc.ServerWritableStream<unknown, unknown> | grpc.ServerDuplexStream<unknown, unknown>;

/** A stream's admission: what it gives, or undefined once a refused stream has failed with the refusal's status. */
export async function admitStream<Scope>(call: ServerStream, admit: Admission<Scope>): Promise<Scope | undefined> {
  try {
    return await admit(call);
  } catch (error) {
    failStream(call, error);
    return undefined;
  }
}

/** Ends a server stream with etcd's status for `error`. */
export function failStream(call: ServerStream, error: unknown): void {
  // grpc-js sends the status of an error emitted on a server stream, then ends it.
  call.emit("error", toServiceError(error));
}
