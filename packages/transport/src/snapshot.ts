/**
 * Snapshot transfers, each on a connection of its own so that megabytes of
 * state never queue ahead of a heartbeat. The sender writes a `snapshot`
 * frame (the Snap message), the data as `chunk` frames as fast as the socket
 * drains, and `end`; the receiver streams the chunks to its handler, pausing
 * the socket while the handler is behind, and answers with an `outcome`.
 */
import { Readable } from "node:stream";
import type { Message, NodeId } from "@raftkv/raft";
import { ConnectionError, END_OF_STREAM, describe, type ConnectionFailure } from "./failure.js";
import type { FrameListener, FramedSocket } from "./framed-socket.js";
import type { Frame } from "./frames.js";
import type { Logger } from "./logger.js";

/**
 * Receives a snapshot: `message` is the Snap message, `chunks` the data the
 * sender streamed. Resolve once the snapshot is safely applied (the transfer
 * is then reported delivered); throw to report it failed.
 */
export type SnapshotHandler = (from: NodeId, message: Message, chunks: AsyncIterable<Uint8Array>) => Promise<void>;

/** What the receiver made of a snapshot, for raft's `reportSnapshot`. */
export type SnapshotOutcome = { readonly delivered: true } | { readonly delivered: false; readonly reason: string };

/** Chunks buffered for a handler that is behind before the socket is paused. */
const RECEIVE_HIGH_WATER_CHUNKS = 4;

/** Streams a snapshot over an open snapshot connection and waits for the receiver's verdict. */
export async function transferSnapshot(connection: FramedSocket, message: Message, chunks: AsyncIterable<Uint8Array>): Promise<SnapshotOutcome> {
  const verdict = receiveVerdict(connection);
  let streamError: unknown;
  try {
    await streamSnapshot(connection, message, chunks);
  } catch (error) {
    streamError = error;
    connection.destroy();
  }
  // The receiver's verdict wins when there is one: it explains why the stream broke.
  const outcome = await verdict;
  connection.destroy();
  if (outcome) return outcome;
  return { delivered: false, reason: streamError === undefined ? "the receiver closed without a verdict" : describe(streamError) };
}

async function streamSnapshot(connection: FramedSocket, message: Message, chunks: AsyncIterable<Uint8Array>): Promise<void> {
  connection.write({ kind: "snapshot", message });
  for await (const data of chunks) {
    await connection.drained();
    connection.write({ kind: "chunk", data });
  }
  connection.write({ kind: "end" });
}

/** The outcome frame, or undefined if the connection closes without one. */
function receiveVerdict(connection: FramedSocket): Promise<SnapshotOutcome | undefined> {
  return new Promise((resolve) => {
    connection.listen({
      frame(frame) {
        if (frame.kind === "outcome") resolve(frame.delivered ? { delivered: true } : { delivered: false, reason: frame.reason });
        else connection.destroy(); // a protocol violation: no verdict will come
      },
      closed: () => resolve(undefined),
    });
  });
}

/** The receiving end of one snapshot connection, after its hello was welcomed. */
export class IncomingSnapshot implements FrameListener {
  private chunks: Readable | undefined;
  private complete = false;

  constructor(
    private readonly connection: FramedSocket,
    private readonly from: NodeId,
    private readonly handler: SnapshotHandler,
    private readonly logger: Logger,
  ) {}

  frame(frame: Frame): void {
    if (frame.kind === "snapshot" && !this.chunks) this.begin(frame.message);
    else if (frame.kind === "chunk" && this.chunks && !this.complete) this.accept(frame.data);
    else if (frame.kind === "end" && this.chunks && !this.complete) this.finish();
    else this.violation(frame);
  }

  closed(failure: ConnectionFailure | undefined): void {
    if (!this.complete) this.chunks?.destroy(new ConnectionError(failure ?? END_OF_STREAM));
  }

  private begin(message: Message): void {
    const socket = this.connection.socket;
    this.chunks = new Readable({ objectMode: true, highWaterMark: RECEIVE_HIGH_WATER_CHUNKS, read: () => socket.resume() });
    this.logger.info({ peer: this.from, index: message.snapshot?.meta.index }, "receiving a snapshot");
    void this.deliver(message, this.chunks);
  }

  private accept(data: Uint8Array): void {
    if (this.chunks?.push(data) === false) this.connection.socket.pause();
  }

  private finish(): void {
    this.complete = true;
    this.chunks?.push(null);
  }

  private async deliver(message: Message, chunks: Readable): Promise<void> {
    const outcome = await this.handle(message, chunks);
    if (outcome.delivered) this.logger.info({ peer: this.from }, "snapshot received");
    else this.logger.warn({ peer: this.from, reason: outcome.reason }, "snapshot not received");
    if (!this.connection.isOpen) return;
    this.connection.write({ kind: "outcome", delivered: outcome.delivered, reason: outcome.delivered ? "" : outcome.reason });
    this.connection.end();
  }

  private async handle(message: Message, chunks: Readable): Promise<SnapshotOutcome> {
    try {
      await this.handler(this.from, message, uint8Arrays(chunks));
    } catch (error) {
      return { delivered: false, reason: `the handler failed: ${describe(error)}` };
    }
    return this.complete ? { delivered: true } : { delivered: false, reason: "the handler returned before the end of the snapshot" };
  }

  private violation(frame: Frame): void {
    this.logger.warn({ peer: this.from, kind: frame.kind }, "unexpected frame on a snapshot stream: closing it");
    this.connection.destroy();
  }
}

/** The chunks of an object-mode stream, typed: the stream only ever holds Uint8Arrays. */
async function* uint8Arrays(chunks: Readable): AsyncGenerator<Uint8Array> {
  for await (const chunk of chunks) yield chunk as Uint8Array;
}
