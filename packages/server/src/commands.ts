/**
 * What goes into the Raft log: one envelope per client write, encoded with
 * msgpackr in its self-describing form so that any later version can read
 * an old log. The envelope's request id lets the member that proposed it
 * find the caller waiting; the client's request id, when the client sent
 * one, lets the state machine apply a retried write once.
 */
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
 * A copy, not msgpackr's result itself: msgpackr packs into one buffer shared
 * by every Packr in the process and returns a view of it, and that buffer
 * grows to megabytes once a large peer frame is packed. A view would keep
 * whole megabyte buffers alive for as long as the entry stays in the log.
 */
export function encodeCommand<C>(envelope: CommandEnvelope<C>): Uint8Array {
  return commandCopies.copy(packr.pack(envelope));
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
