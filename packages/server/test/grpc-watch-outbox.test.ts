/**
 * A Watch stream's outbox: what is queued in one turn goes out as one
 * batch, in order; while a batch is being written, a watch's events join
 * its events response still waiting (the newest header, the events in
 * order) until a response of another kind for that watch, or the join
 * limit; fragments are cut when the batch goes; end sends what waits.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Event, ResponseHeader } from "../src/kv/api.js";
import { messagesOf, type Outgoing, type WatchMessage } from "../src/grpc/watch-encoding.js";
import { Recipient, WatchOutbox } from "../src/grpc/watch-outbox.js";

const header = (revision: number): ResponseHeader => ({ clusterId: 1, memberId: 2, revision, raftTerm: 3 });
const put = (revision: number, valueBytes = 1): Event => ({
  type: "PUT",
  kv: { key: Buffer.from("k"), value: Buffer.alloc(valueBytes, "v"), createRevision: 1, modRevision: revision, version: revision, lease: 0 },
});
/** A stream's watches 0 to 9, as its outbox knows them. */
const recipients = (): Recipient[] => Array.from({ length: 10 }, (_, id) => new Recipient(id));
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** A writer that records each batch, as the items the outbox gave it and as the messages they stand for, and finishes it only when told. */
function recordingWriter() {
  const batches: WatchMessage[][] = [];
  const items: Outgoing[][] = [];
  const finishers: (() => void)[] = [];
  return {
    batches,
    items,
    write: (batch: readonly Outgoing[], done: () => void) => {
      items.push([...batch]);
      batches.push(batch.flatMap(messagesOf));
      finishers.push(done);
    },
    finishOldest: () => finishers.shift()!(),
  };
}

const noFragments = (message: WatchMessage): WatchMessage[] => [message];

/** An outbox whose first batch (watch 9's created response) is still being written, so that what comes next waits and may join. */
async function behindABatch() {
  const writer = recordingWriter();
  const outbox = new WatchOutbox(writer.write, noFragments);
  outbox.add({ header: header(1), watch_id: 9, created: true });
  await turn();
  return { writer, outbox, w: recipients() };
}
const revisionsOf = (message: WatchMessage): number[] => (message.events ?? []).map((event) => event.kv.modRevision);

test("what is queued in one turn leaves as one batch, in order, after the turn", async () => {
  const writer = recordingWriter();
  const outbox = new WatchOutbox(writer.write, noFragments);
  const w = recipients();
  outbox.add({ header: header(1), watch_id: 0, created: true });
  outbox.addEvents(w[0]!, header(2), [put(2)], false);
  outbox.addEvents(w[1]!, header(2), [put(2)], false);
  assert.equal(writer.batches.length, 0, "nothing leaves before the turn ends");
  await turn();
  assert.deepEqual(
    writer.batches.map((batch) => batch.map((m) => [m.watch_id, m.created ?? false, revisionsOf(m)])),
    [
      [
        [0, true, []],
        [0, false, [2]],
        [1, false, [2]],
      ],
    ],
  );
});

test("while a batch is written, a watch's events join its waiting response, and leave when the batch is done", async () => {
  const writer = recordingWriter();
  const outbox = new WatchOutbox(writer.write, noFragments);
  const w = recipients();
  outbox.addEvents(w[0]!, header(2), [put(2)], false);
  await turn();
  for (const revision of [3, 4, 5]) {
    outbox.addEvents(w[0]!, header(revision), [put(revision)], false);
    outbox.addEvents(w[1]!, header(revision), [put(revision)], false);
  }
  await turn();
  assert.equal(writer.batches.length, 1, "the next batch waits for the one being written");
  writer.finishOldest();
  assert.deepEqual(
    writer.batches[1]!.map((m) => [m.watch_id, m.header!.revision, revisionsOf(m)]),
    [
      [0, 5, [3, 4, 5]],
      [1, 5, [3, 4, 5]],
    ],
  );
});

test("joining leaves the events array a watch delivered as it was", async () => {
  const { writer, outbox, w } = await behindABatch();
  const delivered = [put(2)];
  outbox.addEvents(w[0]!, header(2), delivered, false);
  outbox.addEvents(w[0]!, header(3), [put(3)], false);
  writer.finishOldest();
  assert.deepEqual(writer.batches[1]!.map(revisionsOf), [[2, 3]]);
  assert.deepEqual(
    delivered.map((event) => event.kv.modRevision),
    [2],
  );
});

test("a response of another kind for the watch ends the joining: later events come after it", async () => {
  const { writer, outbox, w } = await behindABatch();
  outbox.addEvents(w[0]!, header(2), [put(2)], false);
  outbox.add({ header: header(2), watch_id: 0, canceled: true }, w[0]);
  outbox.addEvents(w[0]!, header(3), [put(3)], false);
  writer.finishOldest();
  assert.deepEqual(
    writer.batches[1]!.map((m) => [m.canceled ?? false, revisionsOf(m)]),
    [
      [false, [2]],
      [true, []],
      [false, [3]],
    ],
  );
});

test("events stop joining a response at the request limit", async () => {
  const { writer, outbox, w } = await behindABatch();
  const bigValue = 600 * 1024;
  for (const revision of [2, 3, 4]) outbox.addEvents(w[0]!, header(revision), [put(revision, bigValue)], false);
  writer.finishOldest();
  assert.deepEqual(writer.batches[1]!.map(revisionsOf), [[2, 3], [4]]);
});

test("a watch that asked for fragments has its response cut when the batch goes", async () => {
  const writer = recordingWriter();
  const halves = (message: WatchMessage): WatchMessage[] => [
    { ...message, events: message.events!.slice(0, 1), fragment: true },
    { ...message, events: message.events!.slice(1) },
  ];
  const outbox = new WatchOutbox(writer.write, halves);
  const w = recipients();
  outbox.addEvents(w[0]!, header(3), [put(2), put(3)], true);
  outbox.addEvents(w[1]!, header(3), [put(2), put(3)], false);
  await turn();
  assert.deepEqual(
    writer.batches[0]!.map((m) => [m.watch_id, revisionsOf(m), m.fragment ?? false]),
    [
      [0, [2], true],
      [0, [3], false],
      [1, [2, 3], false],
    ],
  );
});

test("end sends what waits at once, even behind a batch being written; close drops it", async () => {
  const writer = recordingWriter();
  const outbox = new WatchOutbox(writer.write, noFragments);
  const w = recipients();
  outbox.addEvents(w[0]!, header(2), [put(2)], false);
  await turn();
  outbox.addEvents(w[0]!, header(3), [put(3)], false);
  outbox.end();
  assert.deepEqual(
    writer.batches.map((batch) => batch.map(revisionsOf)),
    [[[2]], [[3]]],
  );
  outbox.addEvents(w[0]!, header(4), [put(4)], false);
  await turn();
  assert.equal(writer.batches.length, 2, "an ended outbox takes nothing more");

  const closing = recordingWriter();
  const closed = new WatchOutbox(closing.write, noFragments);
  closed.addEvents(recipients()[0]!, header(2), [put(2)], false);
  closed.close();
  await turn();
  assert.equal(closing.batches.length, 0);
});

test("watches handed the same events one after the other share one response, a message per id", async () => {
  const writer = recordingWriter();
  const outbox = new WatchOutbox(writer.write, noFragments);
  const w = recipients();
  // One header object and one events array, as the watches of one interest are handed them.
  const [atTwo, events, other] = [header(2), [put(2)], [put(2)]];
  outbox.addEvents(w[0]!, atTwo, events, false);
  outbox.addEvents(w[1]!, atTwo, events, false);
  outbox.addEvents(w[2]!, atTwo, events, false);
  outbox.addEvents(w[3]!, atTwo, other, false);
  await turn();
  assert.deepEqual(
    writer.items[0]!.map((item) => ("watchIds" in item ? item.watchIds : [])),
    [[0, 1, 2], [3]],
  );
  assert.deepEqual(
    writer.batches[0]!.map((m) => [m.watch_id, revisionsOf(m)]),
    [
      [0, [2]],
      [1, [2]],
      [2, [2]],
      [3, [2]],
    ],
  );
});

test("a shared response's watches join later events apart: each gets every revision once, in order, wherever the batch was cut", async () => {
  const { writer, outbox, w } = await behindABatch();
  const [atTwo, atThree, second, third] = [header(2), header(3), [put(2)], [put(3)]];
  for (const id of [0, 1, 2, 3]) outbox.addEvents(w[id]!, atTwo, second, false);
  // The next revision reaches two of the watches before the batch being written is done, the other two after.
  for (const id of [0, 1]) outbox.addEvents(w[id]!, atThree, third, false);
  writer.finishOldest();
  for (const id of [2, 3]) outbox.addEvents(w[id]!, atThree, third, false);
  // A watch whose next events differ from those the others joined gets them in a response of their own.
  outbox.addEvents(w[0]!, header(4), [put(4)], false);
  await turn();
  writer.finishOldest();
  const received = new Map<number, number[]>();
  for (const message of writer.batches.slice(1).flat()) received.set(message.watch_id!, [...(received.get(message.watch_id!) ?? []), ...revisionsOf(message)]);
  assert.deepEqual(
    [...received].sort(([a], [b]) => a - b),
    [
      [0, [2, 3, 4]],
      [1, [2, 3]],
      [2, [2, 3]],
      [3, [2, 3]],
    ],
  );
  assert.deepEqual(
    writer.batches[1]!.map((m) => [m.watch_id, m.header!.revision, revisionsOf(m)]),
    [
      [0, 3, [2, 3]],
      [1, 3, [2, 3]],
      [2, 2, [2]],
      [3, 2, [2]],
    ],
  );
});

test("a progress for one watch of a shared response follows the events it shares, and its later events follow the progress; the others keep joining", async () => {
  const { writer, outbox, w } = await behindABatch();
  const [atTwo, atThree, second, third] = [header(2), header(3), [put(2)], [put(3)]];
  for (const id of [0, 1]) outbox.addEvents(w[id]!, atTwo, second, false);
  outbox.add({ header: atTwo, watch_id: 0 }, w[0]);
  for (const id of [0, 1]) outbox.addEvents(w[id]!, atThree, third, false);
  writer.finishOldest();
  assert.deepEqual(
    writer.batches[1]!.map((m) => [m.watch_id, m.header!.revision, revisionsOf(m)]),
    [
      [0, 2, [2]],
      [1, 3, [2, 3]],
      [0, 2, []],
      [0, 3, [3]],
    ],
  );
});
