/**
 * etcd's WatchResponse, encoded by hand rather than by protobufjs. A put
 * to a key with a thousand watchers becomes a thousand responses that differ
 * only in their watch id and header; through protobufjs each was built
 * from a plain object and encoded field by field, key and value included,
 * and that cost more of the leader's time than the put itself. Here a
 * key-value is encoded once, the first time any response carries it, and
 * the responses of one fan-out copy the bytes of their common header and
 * events, encoded for the first of them.
 *
 * The bytes are what etcd's Go code writes: fields in number order, fields
 * at their default value left out, a set message field written even when
 * empty. Decoding is unchanged (@grpc/proto-loader, see server.ts).
 */
import type { Event, KeyValue, ResponseHeader } from "../kv/api.js";

/** A WatchResponse with its fields by their proto names, and its header and events as the request API holds them. */
export interface WatchMessage {
  readonly header?: ResponseHeader;
  readonly watch_id?: number;
  readonly created?: boolean;
  readonly canceled?: boolean;
  readonly compact_revision?: number;
  readonly cancel_reason?: string;
  readonly fragment?: boolean;
  readonly events?: readonly Event[];
}

const VARINT = 0;
const LENGTH_DELIMITED = 2;
/** Every field number here is below 16, so every tag is one byte. */
const tag = (field: number, wireType: number): number => (field << 3) | wireType;

/** mvccpb.Event.EventType's numbers. */
const EVENT_TYPE = { PUT: 0, DELETE: 1 } as const;

export function encodeWatchResponse(message: WatchMessage): Buffer {
  const parts = partsOf(message);
  const out = new Output(Buffer.allocUnsafe(parts.size));
  writeResponse(out, message, parts);
  return out.finished(parts.size);
}

/**
 * One events response for several watches of a stream: a message for each
 * id, all with this header and these events. The watches of one key on a
 * stream are handed the same events; the bytes they share are sized and
 * copied from one encoding, and each message differs only in its id.
 */
export interface SharedEvents {
  readonly header: ResponseHeader;
  readonly events: readonly Event[];
  readonly watchIds: readonly number[];
}

/** What a Watch stream sends: a response, or one events response for several watches. */
export type Outgoing = WatchMessage | SharedEvents;

function isShared(item: Outgoing): item is SharedEvents {
  return "watchIds" in item;
}

/** The responses an item stands for, one per watch id. */
export function messagesOf(item: Outgoing): WatchMessage[] {
  return isShared(item) ? item.watchIds.map((watchId) => ({ header: item.header, watch_id: watchId, events: item.events })) : [item];
}

/** gRPC's length-prefixed message: a compression flag byte (0: none), then the length as a 32-bit big-endian number. */
const FRAME_PREFIX_BYTES = 5;

/**
 * The responses as gRPC frames one after the other in one buffer, what a
 * grpc-js server call writes to its HTTP/2 stream for each message: one
 * allocation for the lot, each response written in place.
 */
export function encodeFramedWatchResponses(items: readonly Outgoing[]): Buffer {
  const parts = items.map(partsOf);
  let size = 0;
  for (let i = 0; i < items.length; i++) size += framedSize(items[i]!, parts[i]!);
  const out = new Output(Buffer.allocUnsafe(size));
  for (let i = 0; i < items.length; i++) {
    const item = items[i]!;
    if (isShared(item)) writeShared(out, item.watchIds, parts[i]!);
    else {
      out.framePrefix(parts[i]!.size);
      writeResponse(out, item, parts[i]!);
    }
  }
  return out.finished(size);
}

function framedSize(item: Outgoing, parts: ResponseParts): number {
  if (!isShared(item)) return FRAME_PREFIX_BYTES + parts.size;
  let size = 0;
  for (const watchId of item.watchIds) size += FRAME_PREFIX_BYTES + parts.size + intFieldSize(watchId);
  return size;
}

/**
 * A framed message per watch id: the shared header's and events' bytes
 * around each id (fields in number order). The messages of a run of ids
 * whose varints take the same bytes differ in those bytes alone: the first
 * is written field by field, copied into the rest in doubling blocks (a few
 * copies however many ids), and each id written over its copy.
 */
function writeShared(out: Output, watchIds: readonly number[], parts: ResponseParts): void {
  const idAt = FRAME_PREFIX_BYTES + (parts.header ? messageFieldSize(parts.header.length) : 0);
  for (let first = 0; first < watchIds.length; ) {
    const idSize = intFieldSize(watchIds[first]);
    let end = first + 1;
    while (end < watchIds.length && intFieldSize(watchIds[end]) === idSize) end++;
    const frameSize = FRAME_PREFIX_BYTES + parts.size + idSize;
    const start = out.position;
    writeSharedMessage(out, watchIds[first]!, parts);
    for (let copied = 1; copied < end - first; copied *= 2) out.repeat(start, Math.min(copied, end - first - copied) * frameSize);
    for (let i = first + 1; i < end; i++) out.intAt(start + (i - first) * frameSize + idAt, 2, watchIds[i]!);
    first = end;
  }
}

function writeSharedMessage(out: Output, watchId: number, { header, events, size }: ResponseParts): void {
  out.framePrefix(size + intFieldSize(watchId));
  if (header) out.bytesField(1, header);
  out.int(2, watchId);
  if (events) out.raw(events);
}

/** What a response shares with the others of its fan-out (its header's and events' bytes), and its size. */
interface ResponseParts {
  readonly header: Buffer | undefined;
  readonly events: Buffer | undefined;
  readonly size: number;
}

/** The sizes and shared bytes of a response; of a shared events response, all but its watch id. */
function partsOf(message: WatchMessage | SharedEvents): ResponseParts {
  if (isShared(message)) return partsOf({ header: message.header, events: message.events });
  const events = message.events === undefined || message.events.length === 0 ? undefined : eventsBytes(message.events);
  const header = message.header && headerBytes(message.header);
  const size =
    (header ? messageFieldSize(header.length) : 0) +
    intFieldSize(message.watch_id) +
    boolFieldSize(message.created) +
    boolFieldSize(message.canceled) +
    intFieldSize(message.compact_revision) +
    stringFieldSize(message.cancel_reason) +
    boolFieldSize(message.fragment) +
    (events?.length ?? 0);
  return { header, events, size };
}

function writeResponse(out: Output, message: WatchMessage, { header, events }: ResponseParts): void {
  if (header) out.bytesField(1, header);
  out.int(2, message.watch_id);
  out.bool(3, message.created);
  out.bool(4, message.canceled);
  out.int(5, message.compact_revision);
  out.string(6, message.cancel_reason);
  out.bool(7, message.fragment);
  if (events) out.raw(events);
}

// ------------------------------------------------------------ messages

/** The last header encoded, and its bytes: the responses of one fan-out carry equal headers. */
let lastHeader: { readonly header: ResponseHeader; readonly bytes: Buffer } | undefined;

function headerBytes(header: ResponseHeader): Buffer {
  const last = lastHeader?.header;
  const same =
    last !== undefined &&
    last.clusterId === header.clusterId &&
    last.memberId === header.memberId &&
    last.revision === header.revision &&
    last.raftTerm === header.raftTerm;
  if (!same) lastHeader = { header: { ...header }, bytes: encodeHeader(header) };
  return lastHeader!.bytes;
}

function encodeHeader(header: ResponseHeader): Buffer {
  const size = intFieldSize(header.clusterId) + intFieldSize(header.memberId) + intFieldSize(header.revision) + intFieldSize(header.raftTerm);
  const out = new Output(Buffer.allocUnsafe(size));
  out.int(1, header.clusterId);
  out.int(2, header.memberId);
  out.int(3, header.revision);
  out.int(4, header.raftTerm);
  return out.finished(size);
}

/** The last events encoded, and their bytes as WatchResponse's field 11: the responses of one fan-out carry the same events. */
let lastEvents: { readonly events: readonly Event[]; readonly bytes: Buffer } | undefined;

function eventsBytes(events: readonly Event[]): Buffer {
  if (lastEvents === undefined || !sameEvents(lastEvents.events, events)) lastEvents = { events, bytes: encodeEvents(events) };
  return lastEvents.bytes;
}

/** Each watcher gets its own event objects, holding the same key-values. */
function sameEvents(a: readonly Event[], b: readonly Event[]): boolean {
  return a === b || (a.length === b.length && a.every((event, i) => event.type === b[i]!.type && event.kv === b[i]!.kv && event.prevKv === b[i]!.prevKv));
}

function encodeEvents(events: readonly Event[]): Buffer {
  const encoded = events.map((event) => {
    const kv = keyValueBytes(event.kv);
    const prevKv = event.prevKv && keyValueBytes(event.prevKv);
    const type = EVENT_TYPE[event.type];
    return { kv, prevKv, type, size: intFieldSize(type) + messageFieldSize(kv.length) + (prevKv ? messageFieldSize(prevKv.length) : 0) };
  });
  const size = encoded.reduce((sum, event) => sum + messageFieldSize(event.size), 0);
  const out = new Output(Buffer.allocUnsafe(size));
  for (const { kv, prevKv, type, size: eventSize } of encoded) {
    out.lengthPrefix(11, eventSize);
    out.int(1, type);
    out.bytesField(2, kv);
    if (prevKv) out.bytesField(3, prevKv);
  }
  return out.finished(size);
}

/** Key-values are immutable, and a fanned-out event's is the same object in every watcher's response. */
const encodedKeyValues = new WeakMap<KeyValue, Buffer>();

function keyValueBytes(kv: KeyValue): Buffer {
  let bytes = encodedKeyValues.get(kv);
  if (bytes === undefined) {
    bytes = encodeKeyValue(kv);
    encodedKeyValues.set(kv, bytes);
  }
  return bytes;
}

function encodeKeyValue(kv: KeyValue): Buffer {
  const size =
    bytesFieldSize(kv.key) +
    intFieldSize(kv.createRevision) +
    intFieldSize(kv.modRevision) +
    intFieldSize(kv.version) +
    bytesFieldSize(kv.value) +
    intFieldSize(kv.lease);
  const out = new Output(Buffer.allocUnsafe(size));
  out.bytes(1, kv.key);
  out.int(2, kv.createRevision);
  out.int(3, kv.modRevision);
  out.int(4, kv.version);
  out.bytes(5, kv.value);
  out.int(6, kv.lease);
  return out.finished(size);
}

// -------------------------------------------------------------- fields

/** Bytes of an int64 or uint64 varint: a negative int64 takes ten, as its 64-bit two's complement. */
function varintSize(n: number): number {
  if (n < 0) return 10;
  let size = 1;
  for (let rest = n; rest >= 0x80; rest = Math.floor(rest / 0x80)) size++;
  return size;
}

function intFieldSize(n: number | undefined): number {
  return n === undefined || n === 0 ? 0 : 1 + varintSize(n);
}

function boolFieldSize(value: boolean | undefined): number {
  return value === true ? 2 : 0;
}

function bytesFieldSize(bytes: Uint8Array): number {
  return bytes.length === 0 ? 0 : messageFieldSize(bytes.length);
}

function stringFieldSize(text: string | undefined): number {
  return text === undefined || text === "" ? 0 : messageFieldSize(Buffer.byteLength(text));
}

/** A set message field is written even when empty. */
function messageFieldSize(size: number): number {
  return 1 + varintSize(size) + size;
}

/** Writes fields into a buffer sized for them beforehand. */
class Output {
  private at = 0;

  constructor(private readonly buffer: Buffer) {}

  get position(): number {
    return this.at;
  }

  /** Writes again the `length` bytes written from `start` on. */
  repeat(start: number, length: number): void {
    this.buffer.copyWithin(this.at, start, start + length);
    this.at += length;
  }

  /** Writes an int field at `offset`, over bytes written already (as many as it takes). */
  intAt(offset: number, field: number, n: number): void {
    const at = this.at;
    this.at = offset;
    this.int(field, n);
    this.at = at;
  }

  int(field: number, n: number | undefined): void {
    if (n === undefined || n === 0) return;
    this.buffer[this.at++] = tag(field, VARINT);
    this.varint(n);
  }

  bool(field: number, value: boolean | undefined): void {
    if (value !== true) return;
    this.buffer[this.at++] = tag(field, VARINT);
    this.buffer[this.at++] = 1;
  }

  /** A bytes field, left out when empty. */
  bytes(field: number, bytes: Uint8Array): void {
    if (bytes.length > 0) this.bytesField(field, bytes);
  }

  /** A length-delimited field written whatever its length (an encoded message). */
  bytesField(field: number, bytes: Uint8Array): void {
    this.lengthPrefix(field, bytes.length);
    this.raw(bytes);
  }

  string(field: number, text: string | undefined): void {
    if (text === undefined || text === "") return;
    this.lengthPrefix(field, Buffer.byteLength(text));
    this.at += this.buffer.write(text, this.at, "utf8");
  }

  /** Bytes already encoded as fields. */
  raw(bytes: Uint8Array): void {
    this.buffer.set(bytes, this.at);
    this.at += bytes.length;
  }

  framePrefix(length: number): void {
    this.buffer[this.at] = 0;
    this.buffer.writeUInt32BE(length, this.at + 1);
    this.at += FRAME_PREFIX_BYTES;
  }

  lengthPrefix(field: number, length: number): void {
    this.buffer[this.at++] = tag(field, LENGTH_DELIMITED);
    this.varint(length);
  }

  /** The buffer, once every byte sized for was written. */
  finished(size: number): Buffer {
    if (this.at !== size) throw new Error(`watch response encoding: wrote ${this.at} bytes of ${size}`);
    return this.buffer;
  }

  private varint(n: number): void {
    if (n < 0) return this.negativeVarint(n);
    let rest = n;
    while (rest >= 0x80) {
      this.buffer[this.at++] = (rest % 0x80) | 0x80;
      rest = Math.floor(rest / 0x80);
    }
    this.buffer[this.at++] = rest;
  }

  private negativeVarint(n: number): void {
    let rest = BigInt.asUintN(64, BigInt(n));
    while (rest >= 0x80n) {
      this.buffer[this.at++] = Number(rest & 0x7fn) | 0x80;
      rest >>= 7n;
    }
    this.buffer[this.at++] = Number(rest);
  }
}
