/**
 * What goes into the Raft log: one envelope per client write. The
 * envelope's request id lets the member that proposed it find the caller
 * waiting; the client's request id, when the client sent one, lets the
 * state machine apply a retried write once.
 *
 * Two encodings, told apart by the first byte. A store request (every
 * put, delete, txn and lease op) is binary: BINARY_TAG, a format byte, the
 * envelope's fields and the request in mvcc's binary form, which every
 * member decodes without reading field names. Anything else (membership,
 * alarms, auth, and a request the binary form cannot say exactly) is
 * msgpackr's self-describing map, as every entry was before; the WAL and
 * snapshots still hold such entries, so both are read for good.
 */
import { ByteReader, ByteWriter, readRequest, writeRequest, type Request } from "@raftkv/mvcc";
import { SlabCopier } from "@raftkv/transport";
import { Packr } from "msgpackr";

export interface CommandEnvelope<C> {
  /** Unique per proposal, chosen by the server. */
  readonly requestId: string;
  /**
   * The client's id for a write it may retry (the Idempotency-Key header).
   * Each attempt is its own proposal with its own requestId; the store
   * applies the first and answers the others with its outcome.
   */
  readonly clientRequestId?: string;
  /** The auth revision the request's permissions were checked at, for the apply-time check (see auth/store.ts). */
  readonly authRevision?: number;
  readonly command: C;
}

const packr = new Packr({ useRecords: false, mapsAsObjects: true });

/** An entry stays in the Raft log until the next snapshot, up to 100,000 entries later: see SlabCopier. */
const commandCopies = new SlabCopier();

/**
 * msgpack's one byte that starts no value ("never used" in its spec): an
 * envelope in msgpack starts with a map's byte, so this one marks the binary form.
 */
const BINARY_TAG = 0xc1;
const BINARY_FORMAT = 1;
const HAS_CLIENT_REQUEST_ID = 1;
const HAS_AUTH_REVISION = 2;

const writer = new ByteWriter();

/**
 * A copy, not the encoder's buffer itself: both encoders reuse one buffer
 * (msgpackr's is shared by every Packr in the process and grows to
 * megabytes once a large peer frame is packed). A view would keep whole
 * megabyte buffers alive for as long as the entry stays in the log.
 */
export function encodeCommand<C>(envelope: CommandEnvelope<C>): Uint8Array {
  return commandCopies.copy(encodeBinary(envelope) ?? packr.pack(envelope));
}

export function decodeCommand<C>(data: Uint8Array): CommandEnvelope<C> {
  return data[0] === BINARY_TAG ? decodeBinary<C>(data) : decodeMsgpack<C>(data);
}

/** The binary form of a store request's envelope, or undefined for a command it does not cover. */
function encodeBinary<C>(envelope: CommandEnvelope<C>): Uint8Array | undefined {
  const { requestId, clientRequestId, authRevision } = envelope;
  const request = storeRequestOf(envelope.command);
  if (request === undefined || (authRevision !== undefined && !(Number.isSafeInteger(authRevision) && authRevision >= 0))) return undefined;
  writer.reset();
  writer.byte(BINARY_TAG);
  writer.byte(BINARY_FORMAT);
  writer.byte((clientRequestId === undefined ? 0 : HAS_CLIENT_REQUEST_ID) | (authRevision === undefined ? 0 : HAS_AUTH_REVISION));
  writer.string(requestId);
  if (clientRequestId !== undefined) writer.string(clientRequestId);
  if (authRevision !== undefined) writer.count(authRevision);
  return writeRequest(writer, request) ? writer.written() : undefined;
}

function storeRequestOf(command: unknown): Request | undefined {
  const { kind, request } = command as { kind?: unknown; request?: Request };
  return kind === "store" ? request : undefined;
}

function decodeBinary<C>(data: Uint8Array): CommandEnvelope<C> {
  const reader = new ByteReader(data, 1);
  const format = reader.byte();
  if (format !== BINARY_FORMAT) throw new Error(`raftkv: a log entry has binary format ${format}, which this version does not read`);
  const flags = reader.byte();
  const envelope: { requestId: string; clientRequestId?: string; authRevision?: number; command?: C } = { requestId: reader.string() };
  if ((flags & HAS_CLIENT_REQUEST_ID) !== 0) envelope.clientRequestId = reader.string();
  if ((flags & HAS_AUTH_REVISION) !== 0) envelope.authRevision = reader.count();
  envelope.command = { kind: "store", request: readRequest(reader) } as C;
  if (!reader.atEnd) throw new Error("raftkv: a log entry has bytes after its command");
  return envelope as CommandEnvelope<C>;
}

function decodeMsgpack<C>(data: Uint8Array): CommandEnvelope<C> {
  // msgpackr caches a DataView on the array it reads, 120 bytes more on an
  // entry the log keeps: it reads a view that dies with the call instead.
  const decoded = packr.unpack(new Uint8Array(data.buffer, data.byteOffset, data.byteLength)) as CommandEnvelope<C>;
  const clientRequestId: unknown = decoded?.clientRequestId;
  const authRevision: unknown = decoded?.authRevision;
  if (
    typeof decoded?.requestId !== "string" ||
    decoded.command === undefined ||
    !["string", "undefined"].includes(typeof clientRequestId) ||
    !["number", "undefined"].includes(typeof authRevision)
  ) {
    throw new Error("raftkv: a log entry is not a command envelope");
  }
  return decoded;
}
