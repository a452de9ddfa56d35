/**
 * Snapshot transfers: their own connection, flow control, and the verdict
 * the sender gets back.
 */
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { MessageType, type Message } from "@raftkv/raft";
import type { SnapshotHandler } from "../src/index.js";
import { connectedTo, introduce, message, startMember, stopAll, waitFor, type TestMember } from "./support/harness.js";

const running: TestMember[] = [];
after(() => stopAll(...running));

const CHUNK_BYTES = 1024 * 1024;

const snapMessage = (from: number, to: number): Message =>
  message(from, to, {
    type: MessageType.Snap,
    snapshot: { meta: { index: 100, term: 2, conf: { voters: [1, 2], learners: [] } }, data: new Uint8Array(0) },
  });

/** `count` chunks, each starting with its number; counts how many were produced. */
function numberedChunks(count: number): { chunks: AsyncIterable<Uint8Array>; readonly produced: () => number } {
  let produced = 0;
  async function* generate(): AsyncGenerator<Uint8Array> {
    for (; produced < count; ) {
      const chunk = new Uint8Array(CHUNK_BYTES).fill(produced % 251);
      new DataView(chunk.buffer).setUint32(0, produced);
      produced++;
      yield chunk;
    }
  }
  return { chunks: generate(), produced: () => produced };
}

type MessageHandler = (messages: readonly Message[]) => void;

/** Member 1 sends snapshots to member 2, which receives them with `receiver`. */
async function pair(receiver: SnapshotHandler | undefined, onMessages: { a?: MessageHandler; b?: MessageHandler } = {}): Promise<[TestMember, TestMember]> {
  const a = await startMember(1, { onMessages: onMessages.a });
  const b = await startMember(2, { onSnapshot: receiver, onMessages: onMessages.b });
  running.push(a, b);
  introduce(a, b);
  await waitFor("both links up", () => connectedTo(a, 2) && connectedTo(b, 1));
  return [a, b];
}

test("a large snapshot streams with flow control while heartbeats keep flowing", async () => {
  const totalChunks = 128; // 128 MiB: more than loopback socket buffers can hide
  const observed = { heartbeats: 0, chunksRead: 0, producedDuringPause: 0, heartbeatsDuringPause: 0 };
  let snapshotIndex: number | undefined;

  // b stops reading halfway and resumes only after 20 more heartbeats reach it:
  // were heartbeats queued behind snapshot data, they would never arrive.
  const receive: SnapshotHandler = async (_from, snap, chunks) => {
    snapshotIndex = snap.snapshot?.meta.index;
    for await (const chunk of chunks) {
      assert.equal(new DataView(chunk.buffer, chunk.byteOffset).getUint32(0), observed.chunksRead);
      assert.equal(chunk.byteLength, CHUNK_BYTES);
      observed.chunksRead++;
      if (observed.chunksRead === totalChunks / 2) {
        const before = observed.heartbeats;
        await waitFor("heartbeats while the snapshot is paused", () => observed.heartbeats >= before + 20);
        observed.producedDuringPause = source.produced();
        observed.heartbeatsDuringPause = observed.heartbeats - before;
      }
    }
  };
  // b answers each heartbeat; a sends the next one when the answer is in.
  let pinging = true;
  const ping = (): void => a.transport.send([message(1, 2, { type: MessageType.Heartbeat })]);
  const [a, b] = await pair(receive, {
    a: () => {
      if (pinging) ping();
    },
    b: (messages) => {
      observed.heartbeats += messages.length;
      b.transport.send([message(2, 1, { type: MessageType.HeartbeatResp })]);
    },
  });
  ping();
  const source = numberedChunks(totalChunks);
  const outcome = await a.transport.sendSnapshot(2, snapMessage(1, 2), source.chunks);
  pinging = false;

  assert.deepEqual(outcome, { delivered: true });
  assert.equal(snapshotIndex, 100);
  assert.equal(observed.chunksRead, totalChunks);
  assert.ok(observed.heartbeatsDuringPause >= 20);
  assert.ok(
    observed.producedDuringPause < totalChunks,
    `the sender waits for the receiver: ${observed.producedDuringPause} of ${totalChunks} chunks produced while it was paused`,
  );
  assert.ok(connectedTo(a, 2), "the messages link was never disturbed");
  await stopAll(a, b);
});

test("a failing snapshot handler is reported to the sender with its reason", async () => {
  const [a, b] = await pair(async (_from, _snap, chunks) => {
    for await (const _chunk of chunks) throw new Error("disk full");
  });
  const outcome = await a.transport.sendSnapshot(2, snapMessage(1, 2), numberedChunks(64).chunks);
  assert.deepEqual(outcome, { delivered: false, reason: "the handler failed: disk full" });
  await stopAll(a, b);
});

test("a source that fails mid-transfer fails the transfer on both sides", async () => {
  let receiverError: unknown;
  const [a, b] = await pair(async (_from, _snap, chunks) => {
    try {
      for await (const _chunk of chunks);
    } catch (error) {
      receiverError = error;
      throw error;
    }
  });
  async function* failing(): AsyncGenerator<Uint8Array> {
    yield new Uint8Array(10);
    throw new Error("snapshot file vanished");
  }
  const outcome = await a.transport.sendSnapshot(2, snapMessage(1, 2), failing());
  assert.deepEqual(outcome, { delivered: false, reason: "snapshot file vanished" });
  await waitFor("the receiver's handler to see the broken stream", () => receiverError !== undefined);
  await stopAll(a, b);
});

test("a member without a snapshot handler refuses snapshot streams", async () => {
  const [a, b] = await pair(undefined);
  const outcome = await a.transport.sendSnapshot(2, snapMessage(1, 2), numberedChunks(1).chunks);
  assert.equal(outcome.delivered, false);
  assert.match(outcome.delivered ? "" : outcome.reason, /takes no snapshots/);
  const unknown = await a.transport.sendSnapshot(9, snapMessage(1, 9), numberedChunks(1).chunks);
  assert.deepEqual(unknown, { delivered: false, reason: "member 9 is not a running peer" });
  await stopAll(a, b);
});
