/**
 * A compact binary form of requests, for the Raft log: every member decodes
 * every entry once, and msgpack's self-describing maps made that read each
 * field's name as a string. Here a request is its op as one byte, a bit per
 * field of the op saying which are present, then those fields' values in a
 * fixed order: bytes and strings with a varint length, whole numbers as
 * varints, booleans as one byte, enums as their position in etcd's list.
 *
 * A request decodes to the object it was encoded from, field for field and
 * in the same order, so that its fingerprint (a CRC of its msgpack form, see
 * requestFingerprint) is the one msgpack's round trip gave: a retry of a
 * write first logged in the msgpack form matches it. A request this form
 * cannot say exactly (a field it does not know, an undefined value, fields
 * in another order, a negative or fractional number) is refused by
 * writeRequest, and the caller keeps it in msgpack.
 */
import type { Request } from "./types.js";

type FieldKind = "bytes" | "count" | "flag" | "sortOrder" | "sortTarget" | "compareTarget" | "compareResult" | "compares" | "ops" | "checkpoints";

type Fields = readonly (readonly [name: string, kind: FieldKind])[];

const RANGE_FIELDS: Fields = [
  ["key", "bytes"],
  ["rangeEnd", "bytes"],
  ["limit", "count"],
  ["revision", "count"],
  ["sortOrder", "sortOrder"],
  ["sortTarget", "sortTarget"],
  // Not the store's, but the API's range request carries it into a txn's ops.
  ["serializable", "flag"],
  ["keysOnly", "flag"],
  ["countOnly", "flag"],
  ["minModRevision", "count"],
  ["maxModRevision", "count"],
  ["minCreateRevision", "count"],
  ["maxCreateRevision", "count"],
];

/** Each op's fields after `op`, in the order the server builds them. */
const OP_FIELDS: Readonly<Record<Request["op"], Fields>> = {
  range: RANGE_FIELDS,
  put: [
    ["key", "bytes"],
    ["value", "bytes"],
    ["lease", "count"],
    ["prevKv", "flag"],
    ["ignoreValue", "flag"],
    ["ignoreLease", "flag"],
  ],
  deleteRange: [
    ["key", "bytes"],
    ["rangeEnd", "bytes"],
    ["prevKv", "flag"],
  ],
  txn: [
    ["compare", "compares"],
    ["success", "ops"],
    ["failure", "ops"],
  ],
  compact: [["revision", "count"]],
  leaseGrant: [
    ["ttl", "count"],
    ["id", "count"],
  ],
  leaseRevoke: [
    ["id", "count"],
    ["asOf", "count"],
  ],
  leaseRenew: [["id", "count"]],
  leaseCheckpoint: [
    ["checkpoints", "checkpoints"],
    ["asOf", "count"],
  ],
};

/** A compare's fields; of the last five only its target's is set. */
const COMPARE_FIELDS: Fields = [
  ["result", "compareResult"],
  ["target", "compareTarget"],
  ["key", "bytes"],
  ["rangeEnd", "bytes"],
  ["version", "count"],
  ["createRevision", "count"],
  ["modRevision", "count"],
  ["value", "bytes"],
  ["lease", "count"],
];

const CHECKPOINT_FIELDS: Fields = [
  ["id", "count"],
  ["remainingTtl", "count"],
];

/** The codes of ops and enum values: positions in these lists, so entries already written pin their order. */
const OPS = ["range", "put", "deleteRange", "txn", "compact", "leaseGrant", "leaseRevoke", "leaseRenew", "leaseCheckpoint"] as const;
const ENUMS: Readonly<Record<"sortOrder" | "sortTarget" | "compareTarget" | "compareResult", readonly string[]>> = {
  sortOrder: ["NONE", "ASCEND", "DESCEND"],
  sortTarget: ["KEY", "VERSION", "CREATE", "MOD", "VALUE"],
  compareTarget: ["VERSION", "CREATE", "MOD", "VALUE", "LEASE"],
  compareResult: ["EQUAL", "GREATER", "LESS", "NOT_EQUAL"],
};

const textEncoder = new TextEncoder();

/** Appends to a buffer that grows as needed; reused from one encoding to the next. */
export class ByteWriter {
  private bytes = new Uint8Array(4096);
  private length = 0;

  /** Starts a new encoding over the same buffer. */
  reset(): void {
    this.length = 0;
  }

  /** What was written since the last reset: a view, valid until the next write. */
  written(): Uint8Array {
    return this.bytes.subarray(0, this.length);
  }

  byte(value: number): void {
    this.reserve(1);
    this.bytes[this.length++] = value;
  }

  /** A whole number from 0 to 2^53 - 1, seven bits a byte, low bits first. */
  count(value: number): void {
    this.reserve(8);
    let rest = value;
    while (rest >= 0x80) {
      this.bytes[this.length++] = (rest % 0x80) | 0x80;
      rest = Math.floor(rest / 0x80);
    }
    this.bytes[this.length++] = rest;
  }

  raw(bytes: Uint8Array): void {
    this.count(bytes.byteLength);
    this.reserve(bytes.byteLength);
    this.bytes.set(bytes, this.length);
    this.length += bytes.byteLength;
  }

  string(text: string): void {
    const length = Buffer.byteLength(text, "utf8");
    this.count(length);
    this.reserve(length);
    textEncoder.encodeInto(text, this.bytes.subarray(this.length));
    this.length += length;
  }

  private reserve(extra: number): void {
    if (this.length + extra <= this.bytes.byteLength) return;
    const grown = new Uint8Array(Math.max(this.bytes.byteLength * 2, this.length + extra));
    grown.set(this.bytes.subarray(0, this.length));
    this.bytes = grown;
  }
}

/** Reads what ByteWriter wrote; bytes come back as views of the array read. */
export class ByteReader {
  private position: number;

  constructor(
    private readonly bytes: Uint8Array,
    start = 0,
  ) {
    this.position = start;
  }

  get atEnd(): boolean {
    return this.position === this.bytes.byteLength;
  }

  byte(): number {
    if (this.position >= this.bytes.byteLength) throw truncated();
    return this.bytes[this.position++]!;
  }

  /** At most eight bytes, as ByteWriter writes a number below 2^53. */
  count(): number {
    let value = 0;
    let scale = 1;
    for (;;) {
      const byte = this.byte();
      value += (byte & 0x7f) * scale;
      if (value > Number.MAX_SAFE_INTEGER || (byte >= 0x80 && scale === LAST_COUNT_SCALE)) {
        throw new Error("raftkv: a binary request has a number over 2^53");
      }
      if (byte < 0x80) return value;
      scale *= 0x80;
    }
  }

  raw(): Uint8Array {
    const length = this.count();
    const end = this.position + length;
    if (end > this.bytes.byteLength) throw truncated();
    const bytes = this.bytes.subarray(this.position, end);
    this.position = end;
    return bytes;
  }

  string(): string {
    const bytes = this.raw();
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("utf8");
  }
}

/** The weight of a count's eighth byte. */
const LAST_COUNT_SCALE = 0x80 ** 7;

function truncated(): Error {
  return new Error("raftkv: a binary request ends early");
}

/** Writes `request`; false, with something written, when this form cannot say it exactly (see the top of the file). */
export function writeRequest(writer: ByteWriter, request: Request): boolean {
  return writeOp(writer, request as unknown as Plain);
}

export function readRequest(reader: ByteReader): Request {
  return readOp(reader) as unknown as Request;
}

type Plain = Readonly<Record<string, unknown>>;

function writeOp(writer: ByteWriter, op: Plain): boolean {
  const code = OPS.indexOf(op.op as (typeof OPS)[number]);
  if (code < 0 || firstKey(op) !== "op") return false;
  writer.byte(code);
  return writeFields(writer, op, OP_FIELDS[OPS[code]!], 1);
}

function readOp(reader: ByteReader): Plain {
  const name = OPS[reader.byte()];
  if (name === undefined) throw new Error("raftkv: a binary request has an unknown op");
  const op: Record<string, unknown> = { op: name };
  return readFields(reader, OP_FIELDS[name], op);
}

function firstKey(object: Plain): string | undefined {
  for (const name in object) return name;
  return undefined;
}

/**
 * The mask of present fields, then their values. `skip` leading keys of the
 * object were written already (an op's `op`). Fails on a key the list does
 * not have, or has before the previous one.
 */
function writeFields(writer: ByteWriter, object: Plain, fields: Fields, skip = 0): boolean {
  let mask = 0;
  let next = 0;
  let seen = 0;
  for (const name in object) {
    if (seen++ < skip) continue;
    let at = next;
    while (at < fields.length && fields[at]![0] !== name) at++;
    if (at === fields.length || object[name] === undefined) return false;
    mask |= 1 << at;
    next = at + 1;
  }
  writer.count(mask);
  for (let i = 0; i < fields.length; i++) {
    const [name, kind] = fields[i]!;
    if ((mask & (1 << i)) !== 0 && !writeValue(writer, kind, object[name])) return false;
  }
  return true;
}

function readFields(reader: ByteReader, fields: Fields, into: Record<string, unknown>): Plain {
  const mask = reader.count();
  if (mask >= 1 << fields.length) throw new Error("raftkv: a binary request has a field its op does not");
  for (let i = 0; i < fields.length; i++) {
    if ((mask & (1 << i)) === 0) continue;
    const [name, kind] = fields[i]!;
    into[name] = readValue(reader, kind);
  }
  return into;
}

function writeValue(writer: ByteWriter, kind: FieldKind, value: unknown): boolean {
  switch (kind) {
    case "bytes":
      if (!(value instanceof Uint8Array)) return false;
      writer.raw(value);
      return true;
    case "count":
      if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) return false;
      writer.count(value);
      return true;
    case "flag":
      if (typeof value !== "boolean") return false;
      writer.byte(value ? 1 : 0);
      return true;
    case "compares":
      return writeList(writer, value, (item) => writeFields(writer, item, COMPARE_FIELDS));
    case "ops":
      return writeList(writer, value, (item) => writeOp(writer, item));
    case "checkpoints":
      return writeList(writer, value, (item) => writeFields(writer, item, CHECKPOINT_FIELDS));
    default: {
      const code = ENUMS[kind].indexOf(value as string);
      if (code < 0) return false;
      writer.byte(code);
      return true;
    }
  }
}

function readValue(reader: ByteReader, kind: FieldKind): unknown {
  switch (kind) {
    case "bytes":
      return reader.raw();
    case "count":
      return reader.count();
    case "flag":
      return reader.byte() === 1;
    case "compares":
      return readList(reader, () => readFields(reader, COMPARE_FIELDS, {}));
    case "ops":
      return readList(reader, () => readOp(reader));
    case "checkpoints":
      return readList(reader, () => readFields(reader, CHECKPOINT_FIELDS, {}));
    default: {
      const value = ENUMS[kind][reader.byte()];
      if (value === undefined) throw new Error(`raftkv: a binary request has an unknown ${kind}`);
      return value;
    }
  }
}

function writeList(writer: ByteWriter, value: unknown, writeItem: (item: Plain) => boolean): boolean {
  if (!Array.isArray(value)) return false;
  writer.count(value.length);
  for (const item of value) {
    if (typeof item !== "object" || item === null || !writeItem(item as Plain)) return false;
  }
  return true;
}

function readList(reader: ByteReader, readItem: () => Plain): Plain[] {
  const length = reader.count();
  const items: Plain[] = [];
  for (let i = 0; i < length; i++) items.push(readItem());
  return items;
}
