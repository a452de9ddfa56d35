/**
 * grpc-js sends a stream's messages one at a time: the call's writable waits
 * until each message has gone out on the connection before it serializes the
 * next, an event-loop turn or more per message. A Watch stream fanning one
 * put out to hundreds of watches then delivered a few thousand messages a
 * second with the member's CPU mostly idle, and the events fell seconds
 * behind. Given a writev, the writable hands over every message that queued
 * behind the one in flight at once, and they leave together, in order.
 */
import type { Writable } from "node:stream";

type WriteCallback = (error?: Error | null) => void;

interface StreamInternals {
  _write(chunk: unknown, encoding: BufferEncoding, callback: WriteCallback): void;
  _writev?: (chunks: readonly { chunk: unknown; encoding: BufferEncoding }[], callback: WriteCallback) => void;
}

/** Lets `call` send the messages queued behind the one in flight all at once (see above). */
export function sendQueuedTogether(call: Writable): void {
  const stream = call as unknown as StreamInternals;
  stream._writev = (chunks, callback) => {
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
  };
}
