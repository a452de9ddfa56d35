/**
 * The member registry changes in log order with everything else applied:
 * a member added and announcing its name in one batch of committed entries
 * (as a learner that starts at once is) keeps its name. The registry once
 * took the batch's membership changes only after the batch, so the
 * announcement found no member to name and was lost.
 *
 * And a crash between the registry's file and the store loses neither: the
 * store once recorded a batch as applied before the registry saved its
 * effects, so a crash between the two lost an added member for good.
 */
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { ConfChangeType, EntryType, encodeConfChange, type AppliedConfChange, type ConfChange, type Entry } from "@raftkv/raft";
import pino from "pino";
import { AlarmRegistry } from "../src/alarms.js";
import { SimpleTokens } from "../src/auth/tokens.js";
import { encodeCommand } from "../src/commands.js";
import { KvStateMachine } from "../src/kv/state-machine.js";
import { MemberRegistry, encodeAttributes } from "../src/members.js";
import { ProposalTracker } from "../src/proposals.js";

async function openMachine(dir: string): Promise<{ machine: KvStateMachine; registry: MemberRegistry }> {
  const registry = await MemberRegistry.load(dir);
  const machine = await KvStateMachine.open(join(dir, "kv"), {
    registry,
    tokens: new SimpleTokens(60_000),
    alarms: await AlarmRegistry.load(dir),
    tracker: new ProposalTracker(1_000),
    logger: pino({ level: "silent" }),
    leaseProposer: { revoke: async () => undefined, checkpoint: async () => undefined },
  });
  return { machine, registry };
}

function summary(registry: MemberRegistry): object[] {
  return registry.list().map(({ id, name, clientUrls, isLearner }) => ({ id, name, clientUrls, isLearner }));
}

const addLearner: ConfChange = {
  type: ConfChangeType.AddLearner,
  nodeId: 4,
  context: encodeAttributes({ name: "", peerUrls: ["http://n4:2380"], clientUrls: [] }),
};
const publish = { kind: "publish", memberId: 4, name: "n4", clientUrls: ["http://n4:2379"] };
const addedAndNamed: Entry[] = [
  { index: 1, term: 1, type: EntryType.ConfChange, data: encodeConfChange(addLearner) },
  { index: 2, term: 1, type: EntryType.Normal, data: encodeCommand({ requestId: "publish-n4", command: publish }) },
];
const learnerTaken: AppliedConfChange = { index: 1, change: addLearner, conf: { voters: [], learners: [4] } };

test("a member added and named in one batch keeps its name; a change the core skipped leaves the registry alone", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "raftkv-apply-order-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const { machine, registry } = await openMachine(dir);
  t.after(() => machine.close());

  const skipped: ConfChange = { type: ConfChangeType.RemoveNode, nodeId: 9 };
  await machine.apply([...addedAndNamed, { index: 3, term: 1, type: EntryType.ConfChange, data: encodeConfChange(skipped) }], [learnerTaken]);

  assert.deepEqual(summary(registry), [{ id: 4, name: "n4", clientUrls: ["http://n4:2379"], isLearner: true }]);
  assert.equal(machine.appliedIndex, 3);
});

test("when the registry's file cannot be written, the store does not count the batch applied, and start-up applies it again", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "raftkv-apply-crash-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const first = await openMachine(dir);
  // The registry writes members.json.tmp and renames it: a directory there makes that write fail, as a crash would stop it.
  await mkdir(join(dir, "members.json.tmp"));
  await assert.rejects(first.machine.apply(addedAndNamed, [learnerTaken]), { code: "EISDIR" });
  assert.equal(first.machine.appliedIndex, 0, "the store recorded a batch whose registry effects were not saved");
  await first.machine.close();

  await rm(join(dir, "members.json.tmp"), { recursive: true });
  const restarted = await openMachine(dir);
  t.after(() => restarted.machine.close());
  // As the raft core does at start-up: it hands over the committed entries after the store's applied index.
  await restarted.machine.apply(
    addedAndNamed.filter((entry) => entry.index > restarted.machine.appliedIndex),
    [learnerTaken],
  );
  assert.deepEqual(summary(restarted.registry), [{ id: 4, name: "n4", clientUrls: ["http://n4:2379"], isLearner: true }]);
  assert.equal(restarted.machine.appliedIndex, 2);
});
