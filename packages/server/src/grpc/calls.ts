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

/** What every call passes before its handler runs; throws the status that refuses it. */
export type Admission = (metadata: grpc.Metadata) => void;

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

export type UnaryHandler<Req, Res> = (request: Req, metadata: grpc.Metadata, signal: AbortSignal) => Promise<Res>;

/** A unary method: admission, then the handler; a rejection becomes etcd's status. */
export function unary<Req, Res>(admit: Admission, handle: UnaryHandler<Req, Res>): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    const signal = abortWhenCancelled(call);
    const answer = async (): Promise<Res> => {
      admit(call.metadata);
      return handle(call.request, call.metadata, signal);
    };
    answer().then(
      (response) => callback(null, response),
      (error: unknown) => callback(toServiceError(error)),
    );
  };
}

/** A signal that aborts when the client cancels the call or goes away. */
export function abortWhenCancelled(call: Pick<EventEmitter, "once">): AbortSignal {
  const controller = new AbortController();
  call.once("cancelled", () => controller.abort());
  return controller.signal;
}

type ServerStream = grpc.ServerWritableStream<unknown, unknown> | grpc.ServerDuplexStream<unknown, unknown>;

/** A stream that is not admitted (one that requires a leader, on a member without one) fails at once. */
export function streamMayStart(call: ServerStream, admit: Admission): boolean {
  try {
    admit(call.metadata);
    return true;
  } catch (error) {
    failStream(call, error);
    return false;
  }
}

/** Ends a server stream with etcd's status for `error`. */
export function failStream(call: ServerStream, error: unknown): void {
  // grpc-js sends the status of an error emitted on a server stream, then ends it.
  call.emit("error", toServiceError(error));
}
