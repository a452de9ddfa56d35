/**
 * grpc-js sends a stream's messages one at a time: the call's writable waits
 * until each message has gone out on the connection before it serializes the
 * next, an event-loop turn or more per message, and each costs a write to
 * the HTTP/2 stream, its callbacks and a copy. A Watch stream fanning one
 * put out to hundreds of watches then spent as much on that as on
 * everything else a watch event costs the member.
 *
 * A batch writer sends many messages at once. On a grpc-js server call,
 * they leave as one write: the messages framed as grpc-js frames each one
 * (see encodeFramedWatchResponses), in one buffer written to the call's
 * HTTP/2 stream, which is what grpc-js does for each message alone. On any
 * other stream, a write each.
 */
import type { Writable } from "node:stream";
import * as grpc from "@grpc/grpc-js";

/** Sends `messages` in order; `done` once they have gone out and the next batch may follow. */
export type BatchWriter<Message> = (messages: readonly Message[], done: () => void) => void;

/** What grpc-js 1.14's server call (`call.call`, its BaseServerInterceptingCall) does for one message, used here for many. */
interface GrpcJsCall {
  /** The call's HTTP/2 stream. */
  readonly stream: Writable;
  /** True once the client went away; grpc-js then drops what is sent and never completes it. */
  checkCancelled(): boolean;
  /** Sends the response headers unless sent already. */
  maybeSendMetadata(): void;
  sendStatus(status: { code: grpc.status; details: string; metadata: null }): void;
}

/**
 * A writer of batches on `call`, with `frame` turning a batch into grpc-js's
 * framing of its messages. Says whether a batch goes out as one write (the
 * call is grpc-js's, as this module knows it) or as a write each.
 */
export function batchWriterOf<Message>(
  call: Writable,
  frame: (messages: readonly Message[]) => Buffer,
): { readonly write: BatchWriter<Message>; readonly mode: "one write" | "a write each" } {
  const grpcJsCall = grpcJsCallOf(call);
  if (grpcJsCall) return { write: (messages, done) => writeFramed(grpcJsCall, messages, frame, done), mode: "one write" };
  return { write: (messages, done) => writeEach(call, messages, done), mode: "a write each" };
}

function grpcJsCallOf(call: Writable): GrpcJsCall | undefined {
  const candidate = (call as { call?: Partial<Record<keyof GrpcJsCall, unknown>> }).call;
  const fits =
    candidate !== undefined &&
    typeof (candidate.stream as Writable | undefined)?.write === "function" &&
    typeof candidate.checkCancelled === "function" &&
    typeof candidate.maybeSendMetadata === "function" &&
    typeof candidate.sendStatus === "function";
  return fits ? (candidate as GrpcJsCall) : undefined;
}

/** As grpc-js's sendMessage, for every message of the batch in one write. */
function writeFramed<Message>(call: GrpcJsCall, messages: readonly Message[], frame: (messages: readonly Message[]) => Buffer, done: () => void): void {
  if (call.checkCancelled()) return;
  let frames: Buffer;
  try {
    frames = frame(messages);
  } catch {
    // grpc-js's words; a message it cannot encode ends the call, never the member.
    call.sendStatus({ code: grpc.status.INTERNAL, details: "Error serializing response", metadata: null });
    return;
  }
  call.maybeSendMetadata();
  call.stream.write(frames, (error?: Error | null) => {
    // grpc-js's words for a failed write; the stream then ends with that status.
    if (error) call.sendStatus({ code: grpc.status.INTERNAL, details: "Internal server error", metadata: null });
    else done();
  });
}

function writeEach<Message>(call: Writable, messages: readonly Message[], done: () => void): void {
  if (call.destroyed || !call.writable) return;
  let pending = messages.length;
  for (const message of messages) {
    call.write(message, (error?: Error | null) => {
      if (!error && --pending === 0) done();
    });
  }
}
