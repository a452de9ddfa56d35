/**
 * etcdctl 3.4 dials each endpoint of its per-endpoint commands (endpoint
 * status, health, hashkv, defrag, move-leader, `--cluster`) with the URL's
 * scheme left in HTTP/2's `:authority` ("http://127.0.0.1:2379"). etcd's Go
 * server ignores it; Node's HTTP/2 (nghttp2) refuses such a stream with
 * PROTOCOL_ERROR. So a gRPC connection passes through this filter: it reads
 * the client's first header block and, when its authority has a scheme,
 * rewrites that connection's header blocks with the scheme removed. A
 * connection whose first authority is fine (every other client: a client
 * uses one authority per connection) is passed on untouched from then on.
 */
import type { Socket } from "node:net";
import { Duplex } from "node:stream";
import hpack from "hpack.js";

const PREFACE_BYTES = 24;
const FRAME_HEADER_BYTES = 9;
const HEADERS = 0x1;
const CONTINUATION = 0x9;
const END_STREAM = 0x1;
const END_HEADERS = 0x4;
const PADDED = 0x8;
const PRIORITY = 0x20;
/** HTTP/2's default SETTINGS_MAX_FRAME_SIZE and header table size, which Node's server keeps. */
const MAX_FRAME_BYTES = 16_384;
const HEADER_TABLE_BYTES = 4_096;
const SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i;

/** What the client's bytes go through: undecided until its first header block, then passed on or rewritten. */
type Mode = "undecided" | "pass" | "rewrite";

/** The socket as a stream whose incoming bytes have had a scheme taken out of `:authority`. */
export function withAuthorityFixed(socket: Socket): Duplex {
  const filter = new AuthorityFilter();
  const stream = new Duplex({
    read: () => socket.resume(),
    write: (chunk: Buffer, _encoding, done) => socket.write(chunk, done),
    final: (done) => socket.end(done),
    destroy: (error, done) => {
      socket.destroy(error ?? undefined);
      done(error);
    },
  });
  // The socket now answers through this stream: without this, small replies wait on Nagle's algorithm.
  socket.setNoDelay(true);
  socket.on("data", (chunk: Buffer) => {
    let out: Buffer;
    try {
      out = filter.take(chunk);
    } catch (error) {
      stream.destroy(error as Error);
      return;
    }
    if (out.length > 0 && !stream.push(out)) socket.pause();
  });
  socket.on("end", () => stream.push(null));
  socket.on("close", () => stream.destroy());
  socket.on("error", (error) => stream.destroy(error));
  return stream;
}

/** Frame by frame over the client's bytes, from the connection preface on. */
class AuthorityFilter {
  private mode: Mode = "undecided";
  private pending = Buffer.alloc(0);
  private prefaceLeft = PREFACE_BYTES;
  private readonly decompressor = hpack.decompressor.create({ table: { size: HEADER_TABLE_BYTES } });
  /** A header block waiting for its CONTINUATION frames: its first frame's flags and priority, and the fragments so far. */
  private block: { flags: number; streamId: number; priority: Buffer; fragments: Buffer[]; frames: Buffer[] } | undefined;

  take(chunk: Buffer): Buffer {
    if (this.mode === "pass") return chunk;
    this.pending = Buffer.concat([this.pending, chunk]);
    const out: Buffer[] = [];
    if (this.prefaceLeft > 0) {
      const preface = this.pending.subarray(0, this.prefaceLeft);
      out.push(preface);
      this.prefaceLeft -= preface.length;
      this.pending = this.pending.subarray(preface.length);
    }
    while (!this.passing() && this.pending.length >= FRAME_HEADER_BYTES) {
      const length = this.pending.readUIntBE(0, 3);
      if (length > MAX_FRAME_BYTES) {
        // Larger than the server allows: nghttp2 refuses the connection; nothing to buffer for that.
        this.mode = "pass";
        break;
      }
      if (this.pending.length < FRAME_HEADER_BYTES + length) break;
      const frame = this.pending.subarray(0, FRAME_HEADER_BYTES + length);
      this.pending = this.pending.subarray(frame.length);
      out.push(...this.onFrame(frame));
    }
    if (this.passing()) {
      out.push(this.pending);
      this.pending = Buffer.alloc(0);
    }
    return Buffer.concat(out);
  }

  /** Decided by onHeaderBlock, which the frame loop calls. */
  private passing(): boolean {
    return this.mode === "pass";
  }

  private onFrame(frame: Buffer): Buffer[] {
    const type = frame[3]!;
    const flags = frame[4]!;
    const streamId = frame.readUInt32BE(5) & 0x7fffffff;
    const payload = frame.subarray(FRAME_HEADER_BYTES);
    if (type === HEADERS) {
      const padding = flags & PADDED ? payload[0]! : 0;
      const start = flags & PADDED ? 1 : 0;
      const priority = flags & PRIORITY ? payload.subarray(start, start + 5) : Buffer.alloc(0);
      const fragment = payload.subarray(start + priority.length, payload.length - padding);
      this.block = { flags, streamId, priority, fragments: [fragment], frames: [frame] };
    } else if (type === CONTINUATION && this.block) {
      this.block.fragments.push(payload);
      this.block.frames.push(frame);
    } else {
      return [frame];
    }
    if (!(flags & END_HEADERS)) return [];
    const block = this.block;
    this.block = undefined;
    return this.onHeaderBlock(block);
  }

  private onHeaderBlock(block: NonNullable<AuthorityFilter["block"]>): Buffer[] {
    this.decompressor.write(Buffer.concat(block.fragments));
    this.decompressor.execute();
    const headers: { name: string; value: string }[] = [];
    for (let header = this.decompressor.read(); header; header = this.decompressor.read()) headers.push(header);
    if (this.mode === "undecided") {
      const authority = headers.find((header) => header.name === ":authority")?.value ?? "";
      this.mode = SCHEME.test(authority) ? "rewrite" : "pass";
    }
    if (this.mode === "pass") return block.frames;
    const fixed = headers.map(({ name, value }) => ({ name, value: name === ":authority" ? value.replace(SCHEME, "") : value }));
    return headerFrames(block.streamId, block.flags & END_STREAM, block.priority, encodeLiterals(fixed));
  }
}

/**
 * A header block of literals that leave the receiver's dynamic table alone:
 * once rewritten, the client's table and the server's differ, so nothing
 * may refer to the server's.
 */
function encodeLiterals(headers: readonly { name: string; value: string }[]): Buffer {
  const parts: Buffer[] = [];
  for (const { name, value } of headers) {
    parts.push(Buffer.from([0x00]), stringLiteral(name), stringLiteral(value));
  }
  return Buffer.concat(parts);
}

/** An HPACK string without Huffman coding: its length as a 7-bit-prefix integer, then its bytes. */
function stringLiteral(text: string): Buffer {
  const bytes = Buffer.from(text, "latin1");
  return Buffer.concat([prefixedInteger(bytes.length, 7), bytes]);
}

function prefixedInteger(value: number, prefixBits: number): Buffer {
  const limit = (1 << prefixBits) - 1;
  if (value < limit) return Buffer.from([value]);
  const bytes = [limit];
  let rest = value - limit;
  while (rest >= 128) {
    bytes.push((rest % 128) + 128);
    rest = Math.floor(rest / 128);
  }
  bytes.push(rest);
  return Buffer.from(bytes);
}

/** A HEADERS frame, and CONTINUATION frames when the block exceeds the frame size. */
function headerFrames(streamId: number, endStream: number, priority: Buffer, block: Buffer): Buffer[] {
  const frames: Buffer[] = [];
  const first = Buffer.concat([priority, block.subarray(0, MAX_FRAME_BYTES - priority.length)]);
  let offset = first.length - priority.length;
  const flagsOf = (end: boolean) => (end ? END_HEADERS : 0);
  frames.push(frameOf(HEADERS, endStream | (priority.length > 0 ? PRIORITY : 0) | flagsOf(offset >= block.length), streamId, first));
  while (offset < block.length) {
    const part = block.subarray(offset, offset + MAX_FRAME_BYTES);
    offset += part.length;
    frames.push(frameOf(CONTINUATION, flagsOf(offset >= block.length), streamId, part));
  }
  return frames;
}

function frameOf(type: number, flags: number, streamId: number, payload: Buffer): Buffer {
  const header = Buffer.alloc(FRAME_HEADER_BYTES);
  header.writeUIntBE(payload.length, 0, 3);
  header[3] = type;
  header[4] = flags;
  header.writeUInt32BE(streamId, 5);
  return Buffer.concat([header, payload]);
}
