/**
 * The hand-written WatchResponse encoding against protobufjs's from the
 * same .proto files: byte for byte the encoding of the fields that are set
 * (protobufjs writes them in number order, as Go does), and decoded by
 * protobufjs to the same message, for every field and the edge values of
 * its types.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Event, KeyValue, ResponseHeader } from "../src/kv/api.js";
import { encodeFramedWatchResponses, encodeWatchResponse, messagesOf, type Outgoing, type WatchMessage } from "../src/grpc/watch-encoding.js";
import { methodOf, type Message } from "./support/grpc.js";

const watch = methodOf("Watch", "Watch");
const HEADER: ResponseHeader = { clusterId: 2 ** 53 - 1, memberId: 0x4cd611d708ff5, revision: 300, raftTerm: 7 };
const kv = (key: string, value: string, overrides: Partial<KeyValue> = {}): KeyValue => ({
  key: Buffer.from(key),
  value: Buffer.from(value),
  createRevision: 5,
  modRevision: 2 ** 40,
  version: 3,
  lease: 0,
  ...overrides,
});

/** The same message as protobufjs takes it, with only the fields that are set, as Go sends them. */
function protobufjsShape(message: WatchMessage): Message {
  const setFields = (fields: Message): Message => Object.fromEntries(Object.entries(fields).filter(([, value]) => !isDefault(value)));
  const keyValue = (k: KeyValue): Message =>
    setFields({ key: k.key, create_revision: k.createRevision, mod_revision: k.modRevision, version: k.version, value: k.value, lease: k.lease });
  const event = (e: Event): Message => ({
    ...setFields({ type: e.type === "PUT" ? undefined : e.type }),
    kv: keyValue(e.kv),
    ...(e.prevKv && { prev_kv: keyValue(e.prevKv) }),
  });
  const header =
    message.header &&
    setFields({
      cluster_id: message.header.clusterId,
      member_id: message.header.memberId,
      revision: message.header.revision,
      raft_term: message.header.raftTerm,
    });
  return setFields({ ...message, header, events: message.events?.map(event) });
}

function isDefault(value: unknown): boolean {
  return (
    value === undefined ||
    value === 0 ||
    value === false ||
    value === "" ||
    (value instanceof Uint8Array && value.length === 0) ||
    (Array.isArray(value) && value.length === 0)
  );
}

const CASES: { name: string; message: WatchMessage }[] = [
  { name: "a create's answer: watch id 0 and every default left out", message: { header: HEADER, watch_id: 0, created: true } },
  {
    name: "a put and a delete, one with its previous key-value",
    message: {
      header: HEADER,
      watch_id: 12,
      events: [
        { type: "PUT", kv: kv("a", "1", { lease: 0x694d7a1b2c3d }), prevKv: kv("a", "0", { version: 2 }) },
        { type: "DELETE", kv: kv("b", "", { createRevision: 0, version: 0 }) },
      ],
    },
  },
  {
    name: "a refusal: watch id -1, canceled, a reason in UTF-8",
    message: {
      header: HEADER,
      watch_id: -1,
      created: true,
      canceled: true,
      cancel_reason: "rpc error: code = PermissionDenied desc = etcdserver: permission denied — ü",
    },
  },
  { name: "a compacted start", message: { header: HEADER, watch_id: 3, canceled: true, compact_revision: 2 ** 31 } },
  {
    name: "a fragment with an empty key-value",
    message: { header: { clusterId: 0, memberId: 0, revision: 0, raftTerm: 0 }, watch_id: 1, fragment: true, events: [{ type: "PUT", kv: kv("", "") }] },
  },
  { name: "a large value", message: { header: HEADER, watch_id: 127, events: [{ type: "PUT", kv: kv("big", "v".repeat(70_000)) }] } },
];

for (const { name, message } of CASES) {
  test(`watch encoding: ${name}`, () => {
    const ours = encodeWatchResponse(message);
    const reference = watch.responseSerialize(protobufjsShape(message));
    assert.deepEqual(ours, Buffer.from(reference));
    assert.deepEqual(watch.responseDeserialize(ours), watch.responseDeserialize(reference));
  });
}

test("watch encoding: a key-value shared by many responses is encoded the same in each", () => {
  const shared = kv("fan", "out");
  const first = encodeWatchResponse({ header: HEADER, watch_id: 1, events: [{ type: "PUT", kv: shared }] });
  const second = encodeWatchResponse({ header: HEADER, watch_id: 2, events: [{ type: "PUT", kv: shared }] });
  assert.deepEqual(watch.responseDeserialize(first).events, watch.responseDeserialize(second).events);
  assert.equal(watch.responseDeserialize(second).watch_id, 2);
});

test("watch encoding: responses in a row with the same key-value but other events each get their own", () => {
  const shared = kv("fan", "out");
  const previous = kv("fan", "in");
  const variants: Event[][] = [
    [{ type: "PUT", kv: shared }],
    [{ type: "PUT", kv: shared, prevKv: previous }],
    [{ type: "DELETE", kv: shared }],
    [
      { type: "DELETE", kv: shared },
      { type: "PUT", kv: previous },
    ],
    [{ type: "PUT", kv: shared }],
  ];
  for (const events of variants) {
    const message: WatchMessage = { header: HEADER, watch_id: 4, events };
    assert.deepEqual(encodeWatchResponse(message), Buffer.from(watch.responseSerialize(protobufjsShape(message))));
  }
});

test("watch encoding: responses framed together are each response's bytes behind gRPC's five-byte prefix", () => {
  // A shared events response among them stands for a message per id: ids whose varints take one byte to ten, runs of each size.
  const watchIds = [0, 1, 2, 300, 301, 2 ** 40, 2 ** 40 + 1, -1, -2, 5, ...Array.from({ length: 37 }, (_, i) => 16_200 + i * 10)];
  const shared: Outgoing = { header: HEADER, events: [{ type: "PUT", kv: kv("fan", "out") }], watchIds };
  const items: Outgoing[] = [...CASES.map((c) => c.message), shared, CASES[0]!.message];
  const messages = items.flatMap(messagesOf);
  const framed = encodeFramedWatchResponses(items);
  let at = 0;
  for (const message of messages) {
    const expected = encodeWatchResponse(message);
    assert.equal(framed[at], 0, "no compression");
    assert.equal(framed.readUInt32BE(at + 1), expected.length);
    assert.deepEqual(framed.subarray(at + 5, at + 5 + expected.length), expected);
    at += 5 + expected.length;
  }
  assert.equal(at, framed.length);
});
