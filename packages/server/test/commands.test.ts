/**
 * Log entries' command encoding: what a proposal carries into the Raft log,
 * where it stays for thousands of entries.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import type { Request } from "@raftkv/mvcc";
import { EntryType, type Entry } from "@raftkv/raft";
import { Packr } from "msgpackr";
import { pino } from "pino";
import { AlarmRegistry } from "../src/alarms.js";
import { SimpleTokens } from "../src/auth/tokens.js";
import { decodeCommand, encodeCommand, type CommandEnvelope } from "../src/commands.js";
import { KvStateMachine, type Command } from "../src/kv/state-machine.js";
import { toStoreTxn } from "../src/kv/store-mapping.js";
import { MemberRegistry } from "../src/members.js";
import { ProposalTracker } from "../src/proposals.js";
import { compareEqual, deleteRangeRequest, putRequest, rangeRequest, utf8 } from "../src/recipes/kv.js";

test("an encoded command keeps no more than a slab alive, even after msgpackr's shared buffer has grown large", () => {
  // A large pack elsewhere in the process (a peer frame, a snapshot chunk) grows the buffer msgpackr shares.
  new Packr().pack({ frame: new Uint8Array(4 * 1024 * 1024) });
  const envelope = { requestId: "r1", command: { kind: "store", request: { op: "put", key: "k", value: "v" } } };
  const encoded = encodeCommand(envelope);
  assert.ok(encoded.buffer.byteLength <= 1024 * 1024, `a view of the shared buffer would keep ${encoded.buffer.byteLength} bytes alive`);
  assert.deepEqual(decodeCommand(encoded), envelope);
});

test("commands encoded one after another each decode to themselves once many have filled the slabs they are copied into", () => {
  const envelopes = Array.from({ length: 4_000 }, (_, i) => ({
    requestId: `r${i}`,
    command: { kind: "store", request: { op: "put", key: `key-${i}`, value: new Uint8Array(300).fill(i % 256) } },
  }));
  const encoded = envelopes.map((envelope) => encodeCommand(envelope));
  assert.ok(new Set(encoded.map((bytes) => bytes.buffer)).size > 1, "4,000 commands of 300 bytes fill more than one slab");
  assert.deepEqual(
    encoded.map((bytes) => decodeCommand(bytes)),
    envelopes,
  );
});

test("decoding a command leaves the entry's bytes as they were, with no property added", () => {
  const encoded = encodeCommand({ requestId: "r2", command: { kind: "store", request: { op: "put", key: new Uint8Array(16), value: new Uint8Array(256) } } });
  decodeCommand(encoded);
  // msgpackr caches a DataView on what it reads: on an entry of the Raft log, 120 bytes each for as long as the log keeps it.
  const added = Reflect.ownKeys(encoded).filter((key) => typeof key !== "string" || !/^\d+$/.test(key));
  assert.deepEqual(added, []);
});

// ------------------------------------------------- the binary form of store requests

/** How every entry was encoded before the binary form: the msgpack map, which the log, the WAL and snapshots still hold. */
const msgpackForm = new Packr({ useRecords: false, mapsAsObjects: true });
const encodeAsBefore = (envelope: CommandEnvelope<Command>): Uint8Array => new Uint8Array(msgpackForm.pack(envelope));
const store = (request: Request): Command => ({ kind: "store", request });

const key = utf8("key");
/** Store requests as the services build them from the API's shapes (every field at its default unless set). */
const REQUESTS_AS_PROPOSED: readonly Request[] = [
  { op: "put", ...putRequest(key, new Uint8Array(256).fill(7)) },
  { op: "put", ...putRequest(key, new Uint8Array(), { lease: 2 ** 40 + 3, prevKv: true, ignoreValue: true, ignoreLease: false }) },
  { op: "deleteRange", ...deleteRangeRequest(key, { rangeEnd: Uint8Array.of(0), prevKv: true }) },
  {
    op: "txn",
    ...toStoreTxn({
      compare: [
        compareEqual(key, "VERSION", 0),
        compareEqual(key, "CREATE", 5),
        compareEqual(key, "MOD", 300),
        compareEqual(key, "LEASE", 9),
        { result: "NOT_EQUAL", target: "VALUE", key, rangeEnd: utf8("kez"), operand: utf8("v") },
      ],
      success: [
        { put: putRequest(key, utf8("v")) },
        { range: rangeRequest(key, { limit: 10, sortOrder: "DESCEND", sortTarget: "MOD", keysOnly: true, maxCreateRevision: 77 }) },
        { txn: { compare: [], success: [{ deleteRange: deleteRangeRequest(utf8("other")) }], failure: [] } },
      ],
      failure: [{ range: rangeRequest(key, { serializable: true, countOnly: true, revision: 4 }) }],
    }),
  },
  { op: "compact", revision: 1_000_000 },
  { op: "leaseGrant", ttl: 60, id: 0 },
  { op: "leaseGrant", ttl: 5, id: 7_587_869_845_123 },
  { op: "leaseRevoke", id: 12 },
  { op: "leaseRevoke", id: 12, asOf: 4_000 },
  { op: "leaseRenew", id: 12 },
  {
    op: "leaseCheckpoint",
    checkpoints: [
      { id: 12, remainingTtl: 30 },
      { id: 13, remainingTtl: 0 },
    ],
    asOf: 4_001,
  },
];

const ENVELOPES: readonly CommandEnvelope<Command>[] = REQUESTS_AS_PROPOSED.flatMap((request, i) => [
  { requestId: `p${i}`, command: store(request) },
  { requestId: `q${i}`, clientRequestId: `retry-${i}-ключ`, authRevision: 3, command: store(request) },
]);

test("a store request is logged in the binary form and decodes to what its msgpack form decodes to, field order included", () => {
  for (const envelope of ENVELOPES) {
    const binary = encodeCommand(envelope);
    const before = encodeAsBefore(envelope);
    assert.equal(binary[0], 0xc1, `${envelope.requestId} is in the binary form`);
    assert.ok(binary.byteLength < before.byteLength, `${envelope.requestId}: ${binary.byteLength} bytes, not fewer than msgpack's ${before.byteLength}`);
    const decoded = decodeCommand<Command>(binary);
    const decodedBefore = decodeCommand<Command>(before);
    assert.deepStrictEqual(decoded, decodedBefore);
    // The fingerprint that tells a retry from a reused id is a CRC of the request's msgpack form: it needs the same fields in the same order.
    const requestOf = (envelope: CommandEnvelope<Command>) => (envelope.command as Extract<Command, { kind: "store" }>).request;
    assert.deepEqual(msgpackForm.pack(requestOf(decoded)), msgpackForm.pack(requestOf(decodedBefore)), `${envelope.requestId}'s request packs alike`);
  }
});

test("a request the binary form cannot say exactly, and every other command, stay in the msgpack form and decode to themselves", () => {
  const commands: Command[] = [
    store({ op: "leaseRevoke", id: -5 }),
    store({ op: "put", key: "a string, not bytes" } as unknown as Request),
    store({ key, op: "put" }),
    store({ op: "put", key, value: undefined }),
    store({ op: "put", key, unknownField: 1 } as unknown as Request),
    store({ op: "txn", success: [{ op: "put", key, lease: 1.5 }] }),
    { kind: "alarm", action: "activate", alarm: { memberId: 3, alarm: "NOSPACE" } },
    { kind: "publish", memberId: 3, name: "m3", clientUrls: ["http://127.0.0.1:2379"] },
  ];
  for (const command of commands) {
    const envelope = { requestId: "r", command };
    const encoded = encodeCommand(envelope);
    assert.notEqual(encoded[0], 0xc1, JSON.stringify(command));
    assert.deepStrictEqual(decodeCommand(encoded), decodeCommand(encodeAsBefore(envelope)));
  }
});

test("a binary entry cut short, with bytes left over or of a later format is refused, not half read", () => {
  const whole = encodeCommand({ requestId: "r", command: store({ op: "put", ...putRequest(key, utf8("value")) }) });
  assert.throws(() => decodeCommand(whole.subarray(0, whole.byteLength - 2)), /raftkv: a binary request ends early/);
  assert.throws(() => decodeCommand(Uint8Array.of(...whole, 0)), /raftkv: a log entry has bytes after its command/);
  assert.throws(() => decodeCommand(Uint8Array.of(0xc1, 2, ...whole.subarray(2))), /binary format 2, which this version does not read/);
  // Auth revisions of 2^53 + 2^49 - 1, and of nine bytes (past the eight a number below 2^53 takes).
  for (const authRevision of [
    [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x10],
    [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00],
  ]) {
    const entry = Uint8Array.of(0xc1, 1, 2, 1, 0x72, ...authRevision, ...whole.subarray(5));
    assert.throws(() => decodeCommand(entry), /a binary request has a number over 2\^53/);
  }
});

/** A state machine over a real store in `dir`, with a tracker to see what it answers. */
async function machineIn(dir: string) {
  const tracker = new ProposalTracker(10_000);
  const machine = await KvStateMachine.open(join(dir, "kv"), {
    tokens: new SimpleTokens(60_000),
    registry: await MemberRegistry.load(dir),
    alarms: await AlarmRegistry.load(dir),
    tracker,
    logger: pino({ level: "silent" }),
    leaseProposer: { revoke: async () => undefined, checkpoint: async () => undefined },
  });
  return { machine, tracker };
}

const entryOf = (index: number, data: Uint8Array): Entry => ({ term: 1, index, type: EntryType.Normal, data });

test("a store whose log was written in the msgpack form replays it after a restart, and a retry in the binary form is answered with its first outcome", async () => {
  const oldDir = await mkdtemp(join(tmpdir(), "raftkv-commands-old-"));
  const newDir = await mkdtemp(join(tmpdir(), "raftkv-commands-new-"));
  const envelopes = ENVELOPES.filter(({ command }) => (command as Extract<Command, { kind: "store" }>).request.op !== "compact");
  try {
    // The same log, one store fed it in the msgpack form (the first half before a restart), the other in the binary form.
    const old = await machineIn(oldDir);
    const fresh = await machineIn(newDir);
    const half = Math.floor(envelopes.length / 2);
    await old.machine.apply(
      envelopes.slice(0, half).map((envelope, i) => entryOf(i + 1, encodeAsBefore(envelope))),
      [],
    );
    await old.machine.close();
    const restarted = await machineIn(oldDir);
    await restarted.machine.apply(
      envelopes.map((envelope, i) => entryOf(i + 1, encodeAsBefore(envelope))),
      [],
    );
    await fresh.machine.apply(
      envelopes.map((envelope, i) => entryOf(i + 1, encodeCommand(envelope))),
      [],
    );
    assert.equal(restarted.machine.appliedIndex, envelopes.length);
    assert.deepEqual(await restarted.machine.store.hash(), await fresh.machine.store.hash());
    assert.deepEqual(restarted.machine.store.leases(), fresh.machine.store.leases());

    // A client's retry of the put it first sent before the upgrade: the same request, so the first outcome, not "reused".
    const first = envelopes.find((envelope) => envelope.clientRequestId !== undefined)!;
    assert.equal(envelopes.indexOf(first), 1, "the second entry, the second put: it made revision 3");
    const revision = restarted.machine.store.revision;
    const answer = restarted.tracker.wait("retry", 1);
    await restarted.machine.apply([entryOf(envelopes.length + 1, encodeCommand({ ...first, requestId: "retry" }))], []);
    assert.deepEqual(await answer, { op: "put", revision: 3 });
    assert.equal(restarted.machine.store.revision, revision, "the retry wrote nothing");
    await Promise.all([restarted.machine.close(), fresh.machine.close()]);
  } finally {
    await Promise.all([oldDir, newDir].map((dir) => rm(dir, { recursive: true, force: true })));
  }
});
