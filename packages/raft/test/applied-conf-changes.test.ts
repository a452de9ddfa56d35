/** A Ready names the membership changes that take effect among its committed entries: the application's member record follows them alone. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { encodeConfChange } from "../src/confchange.js";
import { RaftNode, bootstrapLog } from "../src/node.js";
import { SeededRng } from "../src/rng.js";
import { MemoryStorage } from "../src/storage.js";
import { ConfChangeType, EntryType, type ConfChange, type Entry } from "../src/types.js";

const confEntry = (index: number, change: ConfChange): Entry => ({ index, term: 1, type: EntryType.ConfChange, data: encodeConfChange(change) });

test("a Ready lists each change that takes effect with the configuration after it, skips the invalid ones, and advance applies them", () => {
  const founding = bootstrapLog([1]);
  const changes: Entry[] = [
    confEntry(2, { type: ConfChangeType.AddLearner, nodeId: 2 }),
    confEntry(3, { type: ConfChangeType.AddNode, nodeId: 2 }), // already a member: skipped
    confEntry(4, { type: ConfChangeType.PromoteLearner, nodeId: 2 }),
    confEntry(5, { type: ConfChangeType.RemoveNode, nodeId: 9 }), // not a member: skipped
    confEntry(6, { type: ConfChangeType.RemoveNode, nodeId: 1 }),
  ];
  const storage = new MemoryStorage();
  storage.append([...founding.entries, ...changes]);
  storage.setHardState({ ...founding.hardState, commit: 6 });
  const node = new RaftNode({ id: 1, storage, rng: new SeededRng(1) });

  const ready = node.ready();
  assert.deepEqual(
    ready.committedEntries.map((entry) => entry.index),
    [1, 2, 3, 4, 5, 6],
  );
  node.advance();
  assert.deepEqual(
    ready.confChanges.map(({ index, change, conf }) => ({ index, type: change.type, nodeId: change.nodeId, conf })),
    [
      { index: 1, type: ConfChangeType.AddNode, nodeId: 1, conf: { voters: [1], learners: [] } },
      { index: 2, type: ConfChangeType.AddLearner, nodeId: 2, conf: { voters: [1], learners: [2] } },
      { index: 4, type: ConfChangeType.PromoteLearner, nodeId: 2, conf: { voters: [1, 2], learners: [] } },
      { index: 6, type: ConfChangeType.RemoveNode, nodeId: 1, conf: { voters: [2], learners: [] } },
    ],
  );
  assert.deepEqual(node.confState(), { voters: [2], learners: [] });
});
