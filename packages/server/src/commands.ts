/**
 * What goes into the Raft log: one envelope per client write, encoded with
 * msgpackr in its self-describing form so that any later version can read
 * an old log. The envelope's request id lets every member find the caller
 * waiting for it, and lets the state machine apply a retried write once.
 */
import { Packr } from "msgpackr";

export interface CommandEnvelope<C> {
  /** Unique per write: chosen by the client for safe retries, else by the server. */
  readonly requestId: string;
  readonly command: C;
}

const packr = new Packr({ useRecords: false, mapsAsObjects: true });

export function encodeCommand<C>(envelope: CommandEnvelope<C>): Uint8Array {
  return packr.pack(envelope);
}

export function decodeCommand<C>(data: Uint8Array): CommandEnvelope<C> {
  const decoded = packr.unpack(data) as CommandEnvelope<C>;
  if (typeof decoded?.requestId !== "string" || decoded.command === undefined) {
    throw new Error("raftkv: a log entry is not a command envelope");
  }
  return decoded;
}
