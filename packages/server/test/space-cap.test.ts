/**
 * The space cap at apply (etcd's capped applier): while NOSPACE is active,
 * entries that grow the store are refused in log order, on every member
 * alike, and a member replaying its log after a crash refuses exactly what
 * it refused the first time, even when alarms.json is already ahead of its
 * store.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import type { Request } from "@raftkv/mvcc";
import { EntryType, type Entry } from "@raftkv/raft";
import { pino } from "pino";
import { AlarmRegistry, type AlarmMember } from "../src/alarms.js";
import { SimpleTokens } from "../src/auth/tokens.js";
import { encodeCommand } from "../src/commands.js";
import { KvStateMachine, type Command } from "../src/kv/state-machine.js";
import { capForSpace, decodeHolding } from "../src/kv/space-cap.js";
import { MemberRegistry } from "../src/members.js";
import { ProposalTracker } from "../src/proposals.js";

const bytes = (text: string) => new TextEncoder().encode(text);
const put = (key: string): Request => ({ op: "put", key: bytes(key), value: bytes("v") });
const noSpace = (memberId: number): AlarmMember => ({ memberId, alarm: "NOSPACE" });

test("the cap folds alarms and writes in log order", () => {
  const { refused, records } = capForSpace(
    [],
    [
      { index: 1, request: put("a") },
      { index: 2, alarm: { action: "activate", alarm: noSpace(7) } },
      { index: 3, request: put("b") },
      { index: 4, request: { op: "deleteRange", key: bytes("a") } },
      { index: 5, request: { op: "compact", revision: 2 } },
      { index: 6, request: { op: "leaseGrant", ttl: 60 } },
      { index: 7, alarm: { action: "activate", alarm: noSpace(9) } },
      { index: 8, alarm: { action: "deactivate", alarm: noSpace(7) } },
      { index: 9, request: put("c") },
      { index: 10, alarm: { action: "deactivate", alarm: noSpace(9) } },
      { index: 11, alarm: { action: "activate", alarm: { memberId: 7, alarm: "CORRUPT" } } },
      { index: 12, request: put("d") },
    ],
  );
  assert.deepEqual([...refused], [3, 6, 9], "growing writes while any member holds NOSPACE");
  assert.deepEqual(
    [...records].map(([index, record]) => [index, decodeHolding(record.value)]),
    [
      [2, [7]],
      [7, [7, 9]],
      [8, [9]],
      [10, []],
    ],
  );
  assert.deepEqual([...capForSpace([3], [{ index: 1, request: put("x") }]).refused], [1], "held before the batch");
});

/** A state machine over a real store and registry in `dir`, with a tracker to see what it answers. */
async function machineIn(dir: string) {
  const logger = pino({ level: "silent" });
  const alarms = await AlarmRegistry.load(dir);
  const tracker = new ProposalTracker(10_000);
  const machine = await KvStateMachine.open(join(dir, "kv"), {
    tokens: new SimpleTokens(60_000),
    registry: await MemberRegistry.load(dir),
    alarms,
    tracker,
    logger,
    leaseProposer: { revoke: async () => undefined, checkpoint: async () => undefined },
  });
  return { machine, alarms, tracker };
}

function entry(index: number, requestId: string, command: Command): Entry {
  return { term: 1, index, type: EntryType.Normal, data: encodeCommand({ requestId, command }) };
}

const storeCommand = (request: Request): Command => ({ kind: "store", request });
const alarmCommand = (action: "activate" | "deactivate", alarm: AlarmMember): Command => ({ kind: "alarm", action, alarm });

test("a put applied after NOSPACE is refused with etcd's error on apply; a replay over a newer alarms.json decides the same", async () => {
  const dir = await mkdtemp(join(tmpdir(), "raftkv-space-cap-"));
  try {
    const first = await machineIn(dir);
    const refusedPut = assert.rejects(first.tracker.wait("put-b", 1), /etcdserver: mvcc: database space exceeded/);
    await first.machine.apply(
      [
        entry(1, "put-a", storeCommand(put("a"))),
        entry(2, "raise", alarmCommand("activate", noSpace(7))),
        entry(3, "put-b", storeCommand(put("b"))),
        entry(4, "disarm", alarmCommand("deactivate", noSpace(7))),
      ],
      [],
    );
    await refusedPut;
    assert.equal(first.machine.store.range({ key: bytes("b") }).kvs.length, 0);
    await first.machine.close();

    // The member applied 5 (a put) and 6 (NOSPACE) and wrote alarms.json, but its store lost both in a crash.
    const second = await machineIn(dir);
    await second.alarms.activate(noSpace(7));
    assert.equal(second.machine.store.appliedIndex, 4);
    await second.machine.apply([entry(5, "put-c", storeCommand(put("c"))), entry(6, "raise", alarmCommand("activate", noSpace(7)))], []);
    assert.equal(second.machine.store.range({ key: bytes("c") }).kvs.length, 1, "applied on replay as it was the first time");
    const refusedAgain = assert.rejects(second.tracker.wait("put-d", 1), /database space exceeded/);
    await second.machine.apply([entry(7, "put-d", storeCommand(put("d")))], []);
    await refusedAgain;
    await second.machine.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
