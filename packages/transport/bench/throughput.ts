/**
 * Messages per second and megabytes per second between two transports on
 * loopback, App messages carrying 256-byte entries, sent in batches; and
 * the round-trip time of a lone heartbeat on an idle link.
 * Run: pnpm --filter @raftkv/transport bench
 */
import { setImmediate as nextTurn } from "node:timers/promises";
import { EntryType, MessageType, type Message, type NodeId } from "@raftkv/raft";
import { Transport } from "../src/index.js";

const ENTRY_BYTES = 256;
const SECONDS = 3;
/** Messages in flight at most, so that the sender's queue never overflows. */
const WINDOW = 50_000;
const LOOPBACK = { host: "127.0.0.1", port: 0 };

interface Scenario {
  readonly name: string;
  readonly entriesPerMessage: number;
  readonly messagesPerTurn: number;
}

const scenarios: Scenario[] = [
  { name: "1 entry per message, 1000 messages per turn", entriesPerMessage: 1, messagesPerTurn: 1000 },
  { name: "64 entries per message, 16 messages per turn", entriesPerMessage: 64, messagesPerTurn: 16 },
];

function app(from: NodeId, to: NodeId, entries: number, index: number): Message {
  const data = new Uint8Array(ENTRY_BYTES).fill(index % 256);
  return {
    type: MessageType.App,
    from,
    to,
    term: 5,
    logTerm: 5,
    index,
    commit: index,
    entries: Array.from({ length: entries }, (_, i) => ({ term: 5, index: index + i + 1, type: EntryType.Normal, data })),
    reject: false,
    rejectHint: 0,
  };
}

/** Two started transports that know each other, members 1 and 2, with the link from 1 to 2 up. */
async function linkedPair(
  onMessagesOf2: (messages: readonly Message[]) => void,
  onMessagesOf1: (messages: readonly Message[]) => void = () => {},
): Promise<[Transport, Transport]> {
  const one = new Transport({ clusterId: 1, memberId: 1, listen: LOOPBACK, maxQueuedMessages: 2 * WINDOW, onMessages: onMessagesOf1 });
  const two = new Transport({ clusterId: 1, memberId: 2, listen: LOOPBACK, onMessages: onMessagesOf2 });
  await Promise.all([one.start(), two.start()]);
  one.addPeer(2, two.address());
  two.addPeer(1, one.address());
  while (!(one.stats().peers.get(2)?.connected && two.stats().peers.get(1)?.connected)) await nextTurn();
  return [one, two];
}

async function throughput(scenario: Scenario): Promise<void> {
  let received = 0;
  const [sender, receiver] = await linkedPair((messages) => (received += messages.length));
  const batch = Array.from({ length: scenario.messagesPerTurn }, (_, i) => app(1, 2, scenario.entriesPerMessage, i * scenario.entriesPerMessage));
  let sent = 0;
  const started = performance.now();
  while (performance.now() - started < SECONDS * 1000) {
    if (sent - received < WINDOW) {
      sender.send(batch);
      sent += batch.length;
    }
    await nextTurn();
  }
  while (received < sent) await nextTurn();
  const seconds = (performance.now() - started) / 1000;
  const stats = sender.stats().peers.get(2);
  const payloadMB = (received * scenario.entriesPerMessage * ENTRY_BYTES) / 1e6;
  const wireMB = (stats?.bytesSent ?? 0) / 1e6;
  console.log(`${scenario.name}:`);
  console.log(`  ${fmt(received / seconds)} messages/s, ${fmt((received * scenario.entriesPerMessage) / seconds)} entries/s`);
  console.log(`  ${fmt(payloadMB / seconds)} MB/s of entry data, ${fmt(wireMB / seconds)} MB/s on the wire`);
  console.log(`  ${fmt(stats?.framesSent ?? 0)} frames, ${fmt(received / (stats?.framesSent ?? 1))} messages per frame, ${stats?.dropped} dropped`);
  await Promise.all([sender.stop(), receiver.stop()]);
}

async function heartbeatRoundTrip(rounds: number): Promise<void> {
  const heartbeat = (from: NodeId, to: NodeId, type: MessageType): Message => ({
    type,
    from,
    to,
    term: 5,
    logTerm: 0,
    index: 0,
    commit: 0,
    entries: [],
    reject: false,
    rejectHint: 0,
  });
  let answered = 0;
  const [one, two] = await linkedPair(
    () => two.send([heartbeat(2, 1, MessageType.HeartbeatResp)]),
    () => answered++,
  );
  const started = performance.now();
  for (let round = 1; round <= rounds; round++) {
    one.send([heartbeat(1, 2, MessageType.Heartbeat)]);
    while (answered < round) await nextTurn();
  }
  const micros = ((performance.now() - started) * 1000) / rounds;
  console.log(`heartbeat round trip on an idle link: ${fmt(micros)} µs on average over ${fmt(rounds)} rounds`);
  await Promise.all([one.stop(), two.stop()]);
}

function fmt(value: number): string {
  return Math.round(value).toLocaleString("en-US");
}

for (const scenario of scenarios) await throughput(scenario);
await heartbeatRoundTrip(10_000);
