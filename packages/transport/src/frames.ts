/**
 * What travels on a connection: length-prefixed frames, each a 4-byte
 * big-endian body length followed by one msgpackr-encoded {@link Frame}.
 */
import type { Message, NodeId } from "@raftkv/raft";

/** Bumped when a frame changes shape; peers of different versions refuse each other. */
export const PROTOCOL_VERSION = 1;

export const FRAME_HEADER_BYTES = 4;

/** What a connection is for, announced in its hello. */
export type StreamKind = "messages" | "snapshot";

export interface Hello {
  readonly kind: "hello";
  readonly version: number;
  readonly clusterId: number;
  /** The dialing member. */
  readonly from: NodeId;
  /** The member the dialer expects to reach. */
  readonly to: NodeId;
  readonly stream: StreamKind;
}

export type Frame =
  | Hello
  /** The acceptor took the hello: the stream is open. */
  | { readonly kind: "welcome" }
  /** The acceptor refused the hello and closes the connection. */
  | { readonly kind: "refuse"; readonly reason: string }
  /** A batch of Raft messages, in the order they were sent. */
  | { readonly kind: "messages"; readonly messages: readonly Message[] }
  /** Opens a snapshot transfer: the Snap message; its data follows in chunks. */
  | { readonly kind: "snapshot"; readonly message: Message }
  | { readonly kind: "chunk"; readonly data: Uint8Array }
  /** The last chunk has been sent. */
  | { readonly kind: "end" }
  /** The snapshot receiver's verdict, its last frame. */
  | { readonly kind: "outcome"; readonly delivered: boolean; readonly reason: string };

export type FrameKind = Frame["kind"];

const FRAME_KINDS: ReadonlySet<string> = new Set<FrameKind>(["hello", "welcome", "refuse", "messages", "snapshot", "chunk", "end", "outcome"]);

/** The peer broke the protocol: the connection cannot continue. */
export class ProtocolError extends Error {
  override readonly name = "ProtocolError";
}

/**
 * Checks that a decoded body is a frame of a known kind. Fields are checked
 * only where input can come from a stranger: the hello.
 */
export function asFrame(value: unknown): Frame {
  if (typeof value !== "object" || value === null || !("kind" in value) || typeof value.kind !== "string" || !FRAME_KINDS.has(value.kind)) {
    throw new ProtocolError("not a frame");
  }
  const frame = value as Frame;
  if (frame.kind === "hello" && !isWellFormedHello(frame)) throw new ProtocolError("malformed hello");
  return frame;
}

function isWellFormedHello(hello: Hello): boolean {
  return (
    Number.isSafeInteger(hello.version) &&
    Number.isSafeInteger(hello.clusterId) &&
    Number.isSafeInteger(hello.from) &&
    Number.isSafeInteger(hello.to) &&
    (hello.stream === "messages" || hello.stream === "snapshot")
  );
}

export function frameHeader(bodyBytes: number): Buffer {
  const header = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
  header.writeUInt32BE(bodyBytes, 0);
  return header;
}

/**
 * Cuts a byte stream into frame bodies. Bytes of an incomplete frame are
 * kept as the chunks they arrived in and joined once, when the frame is
 * complete, so that a large frame is not copied once per arriving chunk.
 */
export class FrameReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** The body length of the frame being read, once its header is in. */
  private expected: number | undefined;

  /** Frames longer than this are refused as a protocol error; may be raised later. */
  constructor(public maxFrameBytes: number) {}

  /** Adds bytes read from the socket; returns the frame bodies they complete. */
  push(chunk: Buffer): Buffer[] {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const bodies: Buffer[] = [];
    for (;;) {
      if (this.expected === undefined) {
        if (this.buffered < FRAME_HEADER_BYTES) break;
        this.expected = this.take(FRAME_HEADER_BYTES).readUInt32BE(0);
        if (this.expected > this.maxFrameBytes) {
          throw new ProtocolError(`frame of ${this.expected} bytes exceeds the limit of ${this.maxFrameBytes}`);
        }
      }
      if (this.buffered < this.expected) break;
      bodies.push(this.take(this.expected));
      this.expected = undefined;
    }
    return bodies;
  }

  private take(bytes: number): Buffer {
    if (bytes === 0) return Buffer.alloc(0);
    let first = this.chunks[0] as Buffer;
    if (first.length < bytes) {
      first = Buffer.concat(this.chunks, this.buffered);
      this.chunks = [first];
    }
    if (first.length === bytes) this.chunks.shift();
    else this.chunks[0] = first.subarray(bytes);
    this.buffered -= bytes;
    return first.subarray(0, bytes);
  }
}
