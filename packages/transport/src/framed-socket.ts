/**
 * A connection (TCP, or TLS over it) that carries frames, and the dialing
 * that opens one: connect, say hello, wait for the welcome.
 */
import type { Socket } from "node:net";
import { Packr, Unpackr } from "msgpackr";
import { ConnectionError, END_OF_STREAM, protocolFailure, socketFailure, type ConnectionFailure } from "./failure.js";
import { FRAME_HEADER_BYTES, FrameReader, asFrame, frameHeader, type Frame, type Hello } from "./frames.js";
import { SlabCopier } from "./slab-copies.js";

export interface PeerAddress {
  readonly host: string;
  readonly port: number;
}

export interface FrameListener {
  frame(frame: Frame): void;
  /** The connection is gone; `failure` says why, or is undefined when this side closed it. */
  closed(failure: ConnectionFailure | undefined): void;
}

/** Until the hello is accepted, a frame can only be a small handshake frame. */
const HANDSHAKE_MAX_FRAME_BYTES = 4 * 1024;
/** A guard against a corrupt length prefix rather than a limit meant to be reached. */
const MAX_FRAME_BYTES = 1024 * 1024 * 1024;
/** How long a connection answered unread may stay open for the other end to close it. */
const ANSWER_LINGER_MS = 5_000;
/** Probe an idle connection after a second of silence; the OS decides the rest. */
const KEEPALIVE_DELAY_MS = 1000;

const NOBODY_LISTENS: FrameListener = { frame: () => {}, closed: () => {} };

/** Where received frames are copied, for every connection (see SlabCopier). */
const receivedFrames = new SlabCopier();

export class FramedSocket {
  private readonly reader = new FrameReader(HANDSHAKE_MAX_FRAME_BYTES);
  /**
   * One encoder and one decoder per connection, in sequential mode: a record
   * shape (the field names of a Message, of an Entry) is sent once per
   * connection, and later frames refer to it by a one-byte id.
   */
  private readonly packr = new Packr({ sequential: true });
  private readonly unpackr = new Unpackr({ sequential: true });
  private listener: FrameListener = NOBODY_LISTENS;
  private failure: ConnectionFailure | undefined;
  private closedHere = false;

  constructor(readonly socket: Socket) {
    // Raft messages are latency-bound and already batched: never wait for Nagle.
    socket.setNoDelay(true);
    socket.setKeepAlive(true, KEEPALIVE_DELAY_MS);
    socket.on("data", (chunk: Buffer) => this.read(chunk));
    socket.on("end", () => this.noteFailure(END_OF_STREAM));
    socket.on("error", (error) => this.noteFailure(socketFailure(error)));
    socket.on("close", () => this.listener.closed(this.closedHere ? undefined : (this.failure ?? END_OF_STREAM)));
  }

  /** Sends every later frame and the close to `listener`. */
  listen(listener: FrameListener): void {
    this.listener = listener;
  }

  /** The handshake succeeded: the peer may now send frames of any size. */
  admitLargeFrames(): void {
    this.reader.maxFrameBytes = MAX_FRAME_BYTES;
  }

  get isOpen(): boolean {
    return !this.closedHere && !this.socket.destroyed;
  }

  /** True while frames can be written without exceeding the socket's send buffer. */
  get acceptsWrites(): boolean {
    return this.isOpen && this.socket.writable && !this.socket.writableNeedDrain;
  }

  /** Writes one frame (header and body in one write); returns its size in bytes. */
  write(frame: Frame): number {
    if (!this.isOpen) throw this.closedError();
    return writeFrame(this.socket, this.packr, frame);
  }

  /** Resolves when the send buffer has room again; rejects if the connection closes first. */
  drained(): Promise<void> {
    if (!this.isOpen) return Promise.reject(this.closedError());
    if (!this.socket.writableNeedDrain) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onDrain = (): void => {
        this.socket.off("close", onClose);
        resolve();
      };
      const onClose = (): void => {
        this.socket.off("drain", onDrain);
        reject(this.closedError());
      };
      this.socket.once("drain", onDrain);
      this.socket.once("close", onClose);
    });
  }

  /** Closes after the frames already written have been sent. */
  end(): void {
    this.closedHere = true;
    this.socket.end();
  }

  /** Closes at once, dropping whatever is unsent. */
  destroy(): void {
    this.closedHere = true;
    this.socket.destroy();
  }

  private read(chunk: Buffer): void {
    let frames: Frame[];
    try {
      frames = this.reader.push(chunk).map((body) => this.decode(body));
    } catch (error) {
      this.noteFailure(protocolFailure(error));
      this.socket.destroy();
      return;
    }
    for (const frame of frames) {
      if (!this.isOpen) return;
      this.listener.frame(frame);
    }
  }

  private decode(body: Buffer): Frame {
    // One copy of the whole body, as a plain Uint8Array: binary fields then
    // decode as Uint8Array views of it (not Buffers), and a stored entry pins
    // the slab its frame was copied into, which the log releases in order,
    // never a socket read. Copying once per frame is several times cheaper
    // than once per field.
    return asFrame(this.unpackr.unpack(receivedFrames.copy(body)));
  }

  private closedError(): ConnectionError {
    return new ConnectionError(this.failure ?? { cause: "reset", detail: "the connection is closed" });
  }

  /** Keeps the first reason the connection failed; later ones are consequences. */
  private noteFailure(failure: ConnectionFailure): void {
    this.failure ??= failure;
  }
}

function writeFrame(socket: Socket, packr: Packr, frame: Frame): number {
  const body = packr.pack(frame);
  socket.cork();
  socket.write(frameHeader(body.length));
  socket.write(body);
  socket.uncork();
  return FRAME_HEADER_BYTES + body.length;
}

/**
 * Writes `frame` and closes, never reading (let alone decoding) what the
 * other end sent: the answer to a connection not to be listened to.
 */
export function answerUnread(socket: Socket, frame: Frame): void {
  // The other end may reset first: there is nothing left to report.
  socket.on("error", () => {});
  // Nor is it let to hold the connection half-open.
  socket.setTimeout(ANSWER_LINGER_MS, () => socket.destroy());
  writeFrame(socket, new Packr({ sequential: true }), frame);
  socket.end();
  // Flowing with no reader: whatever arrives is dropped unread, and the end of the stream can come.
  socket.resume();
}

/**
 * Says `hello` on `socket`, a connection being opened. Resolves with the
 * open stream once the peer welcomes it; rejects with a
 * {@link ConnectionError} when the peer refuses, the connection fails, or
 * no welcome comes within `timeoutMs`.
 */
export function dial(socket: Socket, hello: Hello, timeoutMs: number): Promise<FramedSocket> {
  const framed = new FramedSocket(socket);
  framed.write(hello); // buffered by the socket until it connects
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (failure: ConnectionFailure): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      framed.destroy();
      reject(new ConnectionError(failure));
    };
    // The deadline is checked once the loop has polled the socket after it
    // passed: after a stall (a start-up compiling, a busy machine not
    // scheduling us) timers run before I/O, and a welcome already received
    // would otherwise be taken for silence.
    const timer = setTimeout(() => setImmediate(() => fail({ cause: "timeout", code: "ETIMEDOUT", detail: `no welcome within ${timeoutMs} ms` })), timeoutMs);
    framed.listen({
      frame(frame) {
        if (settled) return;
        if (frame.kind === "welcome") {
          settled = true;
          clearTimeout(timer);
          framed.admitLargeFrames();
          framed.listen(NOBODY_LISTENS);
          resolve(framed);
        } else if (frame.kind === "refuse") {
          fail({ cause: "rejected", detail: frame.reason });
        } else {
          fail(protocolFailure(`expected a welcome, got a ${frame.kind} frame`));
        }
      },
      closed: (failure) => fail(failure ?? END_OF_STREAM),
    });
  });
}
