/**
 * The gateway's streams: one JSON message per line, `{"result": …}` while
 * all is well and a last `{"error": {grpc_code, http_code, message}}` when
 * the server fails midway.
 */
import { EtcdError } from "./errors.js";

export interface StreamMessage<T> {
  readonly result?: T;
  readonly error?: { readonly grpc_code?: number; readonly http_code?: number; readonly message?: string };
}

/** Yields each message's result; throws the stream's error message as an EtcdError. */
export async function* streamResults<T>(body: AsyncIterable<Buffer>, endpoint: string): AsyncGenerator<T> {
  for await (const line of lines(body)) {
    const message = JSON.parse(line) as StreamMessage<T>;
    if (message.error) throw new EtcdError(message.error.message ?? "stream failed", message.error.grpc_code ?? 2, message.error.http_code ?? 500, endpoint);
    if (message.result !== undefined) yield message.result;
  }
}

async function* lines(body: AsyncIterable<Buffer>): AsyncGenerator<string> {
  // A chunk may end inside a multi-byte character: the decoder keeps the partial bytes for the next one.
  const decoder = new TextDecoder();
  let pending = "";
  for await (const chunk of body) {
    pending += decoder.decode(chunk, { stream: true });
    for (let newline = pending.indexOf("\n"); newline >= 0; newline = pending.indexOf("\n")) {
      const line = pending.slice(0, newline).trim();
      pending = pending.slice(newline + 1);
      if (line !== "") yield line;
    }
  }
  if (pending.trim() !== "") yield pending.trim();
}
