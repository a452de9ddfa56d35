/**
 * etcdctl 3.4 dials each endpoint of its per-endpoint commands (endpoint
 * status, health, hashkv, defrag, move-leader, `--cluster`) with the URL's
 * scheme left in HTTP/2's `:authority` ("http://127.0.0.1:2379"). etcd's Go
 * server ignores it; Node's HTTP/2 (nghttp2) refuses such a stream with
 * PROTOCOL_ERROR. So a gRPC connection is looked at before grpc-js gets it:
 * when its first request's authority has a scheme, the connection passes
 * through a filter that rewrites its header blocks with the scheme removed
 * (a client uses one authority per connection). Every other connection
 * goes to grpc-js as the socket itself, on Node's native stream: behind a
 * JavaScript stream, HTTP/2 spent about 1.7 times the CPU per message of a
 * watch fan-out.
 */
import type { Socket } from "node:net";
import { Duplex } from "node:stream";
import hpack from "hpack.js";

const PREFACE_BYTES = 24;
const FRAME_HEADER_BYTES = 9;
const HEADERS = 0x1;
const SETTINGS = 0x4;
const CONTINUATION = 0x9;
const ACK = 0x1;
const END_STREAM = 0x1;
const END_HEADERS = 0x4;
const PADDED = 0x8;
const PRIORITY = 0x20;
/** HTTP/2's default SETTINGS_MAX_FRAME_SIZE and header table size, which Node's server keeps. */
const MAX_FRAME_BYTES = 16_384;
const HEADER_TABLE_BYTES = 4_096;
const SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i;
/**
 * How long a client that sends no request is waited for. Then, if it has
 * acknowledged our SETTINGS and no frame of its is half read, its socket
 * is handed over as it is (clientv3 and grpc-js dial, then may stay quiet
 * far longer before their first call, and a filtered connection costs
 * every later call; etcdctl's per-endpoint commands, the clients that put
 * a scheme in the authority, call as soon as they have dialed); else it is
 * filtered.
 */
const FIRST_REQUEST_WAIT_MS = 1_000;

/** What the client's bytes go through: undecided until its first header block, then passed on or rewritten. */
type Mode = "undecided" | "pass" | "rewrite";

/**
 * Hands a plain-text HTTP/2 connection, of which `received` (the preface at
 * least) was read, to `inject`: the socket itself where the first request's
 * authority is well formed, else the filtered stream. Deciding needs the
 * first header block, which grpc-go clients (etcdctl) send only after the
 * server's SETTINGS; so this member sends an empty SETTINGS frame first and
 * takes the client's acknowledgement of it out of the stream, that Node's
 * session never sees an acknowledgement of settings it did not send.
 */
export function handOverHttp2(socket: Socket, received: Buffer, inject: (connection: Socket | Duplex) => void): void {
  const filter = new AuthorityFilter({ ownSettingsSent: true });
  socket.write(frameOf(SETTINGS, 0, 0, Buffer.alloc(0)));
  const taken: Buffer[] = [];
  const take = (chunk: Buffer): void => {
    taken.push(filter.take(chunk));
    if (filter.decided) handOver();
  };
  const handOver = (): void => {
    clearTimeout(timer);
    socket.off("data", take);
    socket.pause();
    const sofar = Buffer.concat(taken);
    if (filter.passesUntouched) {
      socket.unshift(sofar);
      inject(socket);
    } else {
      inject(filtered(socket, filter, sofar));
    }
  };
  const timer = setTimeout(() => {
    filter.passIfQuiet();
    handOver();
  }, FIRST_REQUEST_WAIT_MS);
  socket.once("close", () => clearTimeout(timer));
  socket.on("data", take);
  take(received);
}

/** The socket as a stream whose incoming bytes go through `filter`, after `sofar`, what it already gave. */
function filtered(socket: Socket, filter: AuthorityFilter, sofar: Buffer): Duplex {
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
  if (sofar.length > 0) stream.push(sofar);
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
  /** Whether the client still owes the acknowledgement of our own SETTINGS, which is taken out. */
  private ackOwed: boolean;
  private pending = Buffer.alloc(0);
  private prefaceLeft = PREFACE_BYTES;
  private readonly decompressor = hpack.decompressor.create({ table: { size: HEADER_TABLE_BYTES } });
  /** A header block waiting for its CONTINUATION frames: its first frame's flags and priority, and the fragments so far. */
  private block: { flags: number; streamId: number; priority: Buffer; fragments: Buffer[]; frames: Buffer[] } | undefined;

  constructor({ ownSettingsSent }: { ownSettingsSent: boolean }) {
    this.ackOwed = ownSettingsSent;
  }

  /** Both known: what to do with the first request's authority, and that our SETTINGS were acknowledged. */
  get decided(): boolean {
    return this.mode !== "undecided" && !this.ackOwed;
  }

  /** Decided, and nothing to rewrite: the bytes taken are the client's, less our acknowledgement, and so are the rest. */
  get passesUntouched(): boolean {
    return this.passing();
  }

  /** Decides, before the client's first header block, to pass its bytes untouched, if nothing is held back (our acknowledgement taken out, no frame half read). */
  passIfQuiet(): void {
    if (this.mode === "undecided" && !this.ackOwed && this.prefaceLeft === 0 && this.pending.length === 0 && !this.block) this.mode = "pass";
  }

  take(chunk: Buffer): Buffer {
    if (this.passing()) return chunk;
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
        this.ackOwed = false;
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

  /** Decided by onHeaderBlock and onFrame, which the frame loop calls. */
  private passing(): boolean {
    return this.mode === "pass" && !this.ackOwed;
  }

  private onFrame(frame: Buffer): Buffer[] {
    const type = frame[3]!;
    const flags = frame[4]!;
    const streamId = frame.readUInt32BE(5) & 0x7fffffff;
    const payload = frame.subarray(FRAME_HEADER_BYTES);
    if (type === SETTINGS && flags & ACK && this.ackOwed) {
      this.ackOwed = false;
      return [];
    }
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
