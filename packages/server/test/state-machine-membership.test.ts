/**
 * The member registry changes in log order with everything else applied:
 * a member added and announcing its name in one batch of committed entries
 * (as a learner that starts at once is) keeps its name. The registry once
 * took the batch's membership changes only after the batch, so the
 * announcement found no member to name and was lost.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
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

test("a member added and named in one batch keeps its name; a change the core skipped leaves the registry alone", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "raftkv-apply-order-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const registry = await MemberRegistry.load(dir);
  const tracker = new ProposalTracker(1_000);
  const machine = await KvStateMachine.open(join(dir, "kv"), {
    registry,
    tokens: new SimpleTokens(60_000),
    alarms: await AlarmRegistry.load(dir),
    tracker,
    logger: pino({ level: "silent" }),
    leaseProposer: { revoke: async () => undefined, checkpoint: async () => undefined },
  });
  t.after(() => machine.close());

  const addLearner: ConfChange = { type: ConfChangeType.AddLearner, nodeId: 4, context: encodeAttributes({ name: "", peerUrls: ["http://n4:2380"], clientUrls: [] }) };
  const skipped: ConfChange = { type: ConfChangeType.RemoveNode, nodeId: 9 };
  const publish = { kind: "publish", memberId: 4, name: "n4", clientUrls: ["http://n4:2379"] };
  const entries: Entry[] = [
    { index: 1, term: 1, type: EntryType.ConfChange, data: encodeConfChange(addLearner) },
    { index: 2, term: 1, type: EntryType.Normal, data: encodeCommand({ requestId: "publish-n4", command: publish }) },
    { index: 3, term: 1, type: EntryType.ConfChange, data: encodeConfChange(skipped) },
  ];
  const taken: AppliedConfChange[] = [{ index: 1, change: addLearner, conf: { voters: [], learners: [4] } }];
  await machine.apply(entries, taken);

  assert.deepEqual(
    registry.list().map(({ id, name, clientUrls, isLearner }) => ({ id, name, clientUrls, isLearner })),
    [{ id: 4, name: "n4", clientUrls: ["http://n4:2379"], isLearner: true }],
  );
  assert.equal(machine.appliedIndex, 3);
});
