/**
 * Test members on 127.0.0.1: a transport on an ephemeral port that records
 * what it receives, the peer events it reports and what it logs.
 */
import { EntryType, MessageType, type Entry, type Message, type NodeId } from "@raftkv/raft";
import { Transport, type ConnectionFailure, type Logger, type PeerAddress, type TransportOptions } from "../../src/index.js";

export const CLUSTER = 7;
export const LOOPBACK: PeerAddress = { host: "127.0.0.1", port: 0 };

export interface LogRecord {
  readonly level: keyof Logger;
  readonly fields: object;
  readonly message: string;
}

export type PeerEvent =
  | { readonly kind: "connected"; readonly peer: NodeId }
  | { readonly kind: "unreachable"; readonly peer: NodeId; readonly failure: ConnectionFailure };

export interface TestMember {
  readonly id: NodeId;
  readonly transport: Transport;
  readonly address: PeerAddress;
  readonly inbox: Message[];
  readonly events: PeerEvent[];
  readonly log: LogRecord[];
}

export function recordingLogger(log: LogRecord[]): Logger {
  const at =
    (level: keyof Logger) =>
    (fields: object, message: string): void => {
      log.push({ level, fields, message });
    };
  return { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}

type MemberOptions = Partial<Omit<TransportOptions, "memberId">>;

/** Starts member `id`; `onMessages`, if given, runs after the message is put in the inbox. */
export async function startMember(id: NodeId, options: MemberOptions = {}): Promise<TestMember> {
  const inbox: Message[] = [];
  const events: PeerEvent[] = [];
  const log: LogRecord[] = [];
  const transport = new Transport({
    clusterId: CLUSTER,
    listen: LOOPBACK,
    logger: recordingLogger(log),
    ...options,
    memberId: id,
    onMessages: (messages, from) => {
      inbox.push(...messages);
      options.onMessages?.(messages, from);
    },
    onPeerConnected: (peer) => events.push({ kind: "connected", peer }),
    onPeerUnreachable: (peer, failure) => events.push({ kind: "unreachable", peer, failure }),
  });
  await transport.start();
  return { id, transport, address: transport.address(), inbox, events, log };
}

/** Makes the members known to each other, so that they dial each other. */
export function introduce(...members: TestMember[]): void {
  for (const member of members) {
    for (const other of members) {
      if (other !== member) member.transport.addPeer(other.id, other.address);
    }
  }
}

export async function stopAll(...members: TestMember[]): Promise<void> {
  await Promise.all(members.map((member) => member.transport.stop()));
}

/** Polls `condition` until it holds; fails with `what` after `timeoutMs`. */
export async function waitFor(what: string, condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

export function connectedTo(member: TestMember, peer: NodeId): boolean {
  return member.transport.stats().peers.get(peer)?.connected === true;
}

export function entry(index: number, data: Uint8Array): Entry {
  return { term: 1, index, type: EntryType.Normal, data };
}

export function message(from: NodeId, to: NodeId, fields: Partial<Message> = {}): Message {
  return {
    type: MessageType.Heartbeat,
    from,
    to,
    term: 1,
    logTerm: 0,
    index: 0,
    entries: [],
    commit: 0,
    reject: false,
    rejectHint: 0,
    ...fields,
  };
}
