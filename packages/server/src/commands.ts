/**
 * What goes into the Raft log: one envelope per client write, encoded with
 * msgpackr in its self-describing form so that any later version can read
 * an old log. The envelope's request id lets the member that proposed it
 * find the caller waiting; the client's request id, when the client sent
 * one, lets the state machine apply a retried write once.
 */
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

/**
 * Encoded commands are copied one after the other into slabs: an entry stays
 * in the Raft log until the next snapshot (up to 100,000 entries later), and
 * an ArrayBuffer of its own costs an entry about 190 bytes beyond its bytes
 * (the buffer object, its native backing store, a malloc block) and leaves
 * long-lived blocks among the short-lived ones of the C heap, which then
 * cannot give freed space back. Entries leave the log in the order they
 * were proposed, so a slab is freed soon after its last entry. A command
 * larger than 64 KiB gets a buffer of its own, so what a slab leaves unused
 * at its end stays small (about 3 % for txns of 100 puts, 30 KB each).
 */
const SLAB_BYTES = 1024 * 1024;
const OWN_BUFFER_ABOVE = 64 * 1024;
let slab = new Uint8Array(SLAB_BYTES);
let slabUsed = 0;

/**
 * A copy, not msgpackr's result itself: msgpackr packs into one buffer shared
 * by every Packr in the process and returns a view of it, and that buffer
 * grows to megabytes once a large peer frame is packed. A view would keep
 * whole megabyte buffers alive for as long as the entry stays in the log.
 */
export function encodeCommand<C>(envelope: CommandEnvelope<C>): Uint8Array {
  return copyToSlab(packr.pack(envelope));
}

function copyToSlab(bytes: Uint8Array): Uint8Array {
  if (bytes.byteLength > OWN_BUFFER_ABOVE) return new Uint8Array(bytes);
  if (slabUsed + bytes.byteLength > SLAB_BYTES) {
    slab = new Uint8Array(SLAB_BYTES);
    slabUsed = 0;
  }
  const copy = slab.subarray(slabUsed, slabUsed + bytes.byteLength);
  copy.set(bytes);
  slabUsed += bytes.byteLength;
  return copy;
}

export function decodeCommand<C>(data: Uint8Array): CommandEnvelope<C> {
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
