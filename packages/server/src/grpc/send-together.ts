/**
 * grpc-js sends a stream's messages one at a time: the call's writable waits
 * until each message has gone out on the connection before it serializes the
 * next, an event-loop turn or more per message. A Watch stream fanning one
 * put out to hundreds of watches then delivered a few thousand messages a
 * second with the member's CPU mostly idle, and the events fell seconds
 * behind. Given a writev, the writable hands over every message that queued
 * behind the one in flight at once, and they leave together, in order.
 *
 * On a grpc-js server call, they leave as one write: each message framed
 * as grpc-js frames it (a zero flag byte, then its length in four bytes),
 * all in one buffer written to the call's HTTP/2 stream, which is what
 * grpc-js does for each message alone. A message of its own cost grpc-js
 * a write to the HTTP/2 stream, its callbacks and a copy, about as much as
 * everything else a watch event costs the member.
 */
import type { Writable } from "node:stream";
import * as grpc from "@grpc/grpc-js";

type WriteCallback = (error?: Error | null) => void;
type QueuedChunks = readonly { chunk: unknown; encoding: BufferEncoding }[];

interface StreamInternals {
  _write(chunk: unknown, encoding: BufferEncoding, callback: WriteCallback): void;
  _writev?: (chunks: QueuedChunks, callback: WriteCallback) => void;
}

/** What grpc-js 1.14's server call (`call.call`, its BaseServerInterceptingCall) does for one message, used here for many. */
interface GrpcJsCall {
  /** The call's HTTP/2 stream. */
  readonly stream: Writable;
  readonly handler: { serialize(message: unknown): Buffer };
  /** True once the client went away; grpc-js then drops what is sent and never completes it. */
  checkCancelled(): boolean;
  /** Sends the response headers unless sent already. */
  maybeSendMetadata(): void;
  sendStatus(status: { code: grpc.status; details: string; metadata: null }): void;
}

/** gRPC's length-prefixed message: a compression flag byte (0: none) and the length as a 32-bit big-endian number. */
const FRAME_PREFIX_BYTES = 5;

/**
 * Lets `call` send the messages queued behind the one in flight all at once
 * (see above). Says whether they go out as one write of grpc-js's framing
 * (the call is grpc-js's, as this module knows it) or as a write each.
 */
export function sendQueuedTogether(call: Writable): "one write" | "a write each" {
  const stream = call as unknown as StreamInternals;
  const grpcJsCall = grpcJsCallOf(call);
  stream._writev = grpcJsCall ? (chunks, callback) => writeFramed(grpcJsCall, chunks, callback) : (chunks, callback) => writeEach(stream, chunks, callback);
  return grpcJsCall ? "one write" : "a write each";
}

function grpcJsCallOf(call: Writable): GrpcJsCall | undefined {
  const candidate = (call as { call?: Partial<Record<keyof GrpcJsCall, unknown>> }).call;
  const fits =
    candidate !== undefined &&
    typeof (candidate.stream as Writable | undefined)?.write === "function" &&
    typeof (candidate.handler as GrpcJsCall["handler"] | undefined)?.serialize === "function" &&
    typeof candidate.checkCancelled === "function" &&
    typeof candidate.maybeSendMetadata === "function" &&
    typeof candidate.sendStatus === "function";
  return fits ? (candidate as GrpcJsCall) : undefined;
}

/** As grpc-js's sendMessage, for every queued message in one write. */
function writeFramed(call: GrpcJsCall, chunks: QueuedChunks, callback: WriteCallback): void {
  if (call.checkCancelled()) return;
  let messages: Buffer[];
  try {
    messages = chunks.map(({ chunk }) => call.handler.serialize(chunk));
  } catch {
    // grpc-js's words; a message it cannot encode ends the call, never the member.
    call.sendStatus({ code: grpc.status.INTERNAL, details: "Error serializing response", metadata: null });
    return;
  }
  const frames = Buffer.allocUnsafe(messages.reduce((sum, message) => sum + FRAME_PREFIX_BYTES + message.length, 0));
  let at = 0;
  for (const message of messages) {
    frames[at] = 0;
    frames.writeUInt32BE(message.length, at + 1);
    message.copy(frames, at + FRAME_PREFIX_BYTES);
    at += FRAME_PREFIX_BYTES + message.length;
  }
  call.maybeSendMetadata();
  call.stream.write(frames, (error?: Error | null) => {
    // grpc-js's words for a failed write; the stream then ends with that status.
    if (error) call.sendStatus({ code: grpc.status.INTERNAL, details: "Internal server error", metadata: null });
    else callback();
  });
}

function writeEach(stream: StreamInternals, chunks: QueuedChunks, callback: WriteCallback): void {
  let pending = chunks.length;
  let settled = false;
  const settle = (error?: Error | null): void => {
    if (settled) return;
    if (error || --pending === 0) {
      settled = true;
      callback(error);
    }
  };
  for (const { chunk, encoding } of chunks) stream._write(chunk, encoding, settle);
}
