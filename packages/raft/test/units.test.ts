/**
 * The pure helpers on their own: quorum arithmetic, the log's
 * two halves, membership changes and storage, as tables where they fit.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { applyConfChange, confChangeError, decodeConfChange, encodeConfChange } from "../src/confchange.js";
import { RaftLog } from "../src/log.js";
import { committedIndex, majority, voteResult, VoteResult } from "../src/quorum.js";
import { SeededRng } from "../src/rng.js";
import { CompactedError, MemoryStorage } from "../src/storage.js";
import { ConfChangeType, EntryType, type Entry } from "../src/types.js";

const entry = (index: number, term: number): Entry => ({ index, term, type: EntryType.Normal, data: new Uint8Array() });
const entries = (from: number, terms: number[]): Entry[] => terms.map((term, i) => entry(from + i, term));

describe("quorum", () => {
  test("majority sizes", () => {
    for (const [voters, needed] of [
      [1, 1],
      [2, 2],
      [3, 2],
      [4, 3],
      [5, 3],
      [7, 4],
    ] as const) {
      assert.equal(majority(voters), needed, `${voters} voters`);
    }
  });

  test("committed index is the highest index a majority holds", () => {
    const cases: [number[], number][] = [
      [[5], 5],
      [[5, 3, 1], 3],
      [[5, 5, 1], 5],
      [[9, 8, 7, 1, 0], 7],
      [[2, 2, 0, 0], 0],
    ];
    for (const [matches, expected] of cases) {
      const ids = new Set(matches.map((_, i) => i + 1));
      assert.equal(
        committedIndex(ids, (id) => matches[id - 1] ?? 0),
        expected,
        `matches ${matches}`,
      );
    }
  });

  test("vote results", () => {
    const voters = new Set([1, 2, 3, 4, 5]);
    const tally = (granted: number[], rejected: number[]) =>
      voteResult(voters, new Map([...granted.map((id) => [id, true] as const), ...rejected.map((id) => [id, false] as const)]));
    assert.equal(tally([1, 2, 3], []), VoteResult.Won);
    assert.equal(tally([1, 2], [3]), VoteResult.Pending);
    assert.equal(tally([1], [2, 3, 4]), VoteResult.Lost);
  });
});

describe("log", () => {
  function logWith(stable: Entry[], commit = 0): RaftLog {
    const storage = new MemoryStorage();
    storage.append(stable);
    storage.setHardState({ term: 1, vote: 0, commit });
    return new RaftLog(storage, 0);
  }

  test("a conflicting suffix is replaced, the matching prefix kept", () => {
    const log = logWith(entries(1, [1, 1, 2, 2]));
    const lastNew = log.tryAppend(2, 1, 0, entries(3, [3, 3, 3]));
    assert.equal(lastNew, 5);
    assert.deepEqual(
      [1, 2, 3, 4, 5].map((i) => log.term(i)),
      [1, 1, 3, 3, 3],
    );
    assert.equal(log.tryAppend(5, 2, 0, []), undefined, "no entry (5, 2): rejected");
  });

  test("committed entries can never be overwritten", () => {
    const log = logWith(entries(1, [1, 1, 2]), 3);
    assert.throws(() => log.tryAppend(1, 1, 3, entries(2, [5])), /committed/);
  });

  test("fast back-off skips a whole term", () => {
    const log = logWith(entries(1, [1, 1, 3, 3, 3, 3]));
    assert.equal(log.findConflictByTerm(6, 2), 2);
    assert.equal(log.findConflictByTerm(6, 3), 6);
    assert.equal(log.findConflictByTerm(10, 1), 2);
  });

  test("only durable committed entries are handed out to apply", () => {
    const log = logWith(entries(1, [1, 1]), 2);
    log.append(entries(3, [1, 1]));
    log.commitTo(4);
    assert.deepEqual(
      log.committedToApply(0, Infinity).map((e) => e.index),
      [1, 2],
    );
    // The application persists them, then says so.
    (log.storage as MemoryStorage).append(entries(3, [1, 1]));
    log.stableTo(4, 1);
    assert.deepEqual(
      log.committedToApply(2, Infinity).map((e) => e.index),
      [3, 4],
    );
  });

  test("up-to-date compares last term first, then length (§5.4.1)", () => {
    const log = logWith(entries(1, [1, 2, 2]));
    assert.ok(log.isUpToDate(1, 3));
    assert.ok(log.isUpToDate(3, 2));
    assert.ok(!log.isUpToDate(2, 2));
    assert.ok(!log.isUpToDate(9, 1));
  });
});

describe("membership changes", () => {
  const conf = { voters: [1, 2, 3], learners: [4] };
  test("valid and invalid changes", () => {
    assert.equal(confChangeError(conf, { type: ConfChangeType.AddNode, nodeId: 5 }), undefined);
    assert.match(confChangeError(conf, { type: ConfChangeType.AddNode, nodeId: 2 }) ?? "", /exists/);
    assert.match(confChangeError(conf, { type: ConfChangeType.PromoteLearner, nodeId: 2 }) ?? "", /not a learner/);
    assert.match(confChangeError({ voters: [1], learners: [] }, { type: ConfChangeType.RemoveNode, nodeId: 1 }) ?? "", /last voter/);
    assert.deepEqual(applyConfChange(conf, { type: ConfChangeType.PromoteLearner, nodeId: 4 }), { voters: [1, 2, 3, 4], learners: [] });
    assert.deepEqual(applyConfChange(conf, { type: ConfChangeType.RemoveNode, nodeId: 2 }), { voters: [1, 3], learners: [4] });
  });

  test("encoding round-trips, and garbage is refused", () => {
    const change = { type: ConfChangeType.AddLearner, nodeId: 2 ** 40 + 7, context: new TextEncoder().encode("n5") };
    assert.deepEqual(decodeConfChange(encodeConfChange(change)), change);
    assert.throws(() => decodeConfChange(new Uint8Array(3)), /too short/);
    assert.throws(() => decodeConfChange(Uint8Array.of(9, 0, 0, 0, 0, 0, 0, 0, 0)), /unknown/);
  });
});

describe("memory storage", () => {
  test("compaction keeps a tail below the snapshot and refuses compacted reads", () => {
    const storage = new MemoryStorage();
    storage.append(entries(1, [1, 1, 1, 2, 2, 2]));
    storage.setHardState({ term: 2, vote: 0, commit: 6 });
    storage.createSnapshot(5, { voters: [1], learners: [] }, new Uint8Array([1]));
    storage.compact(3);
    assert.equal(storage.firstIndex(), 4);
    assert.equal(storage.term(3), 1, "the compaction point's term is remembered");
    assert.throws(() => storage.entries(2, 4, Infinity), CompactedError);
    assert.throws(() => storage.compact(6), /passes the snapshot/);
    assert.equal(storage.snapshot().meta.index, 5);
  });
});

test("the seeded generator replays exactly and stays in range", () => {
  const draw = (seed: number) => {
    const rng = new SeededRng(seed);
    return Array.from({ length: 100 }, () => rng.nextInt(10));
  };
  assert.deepEqual(draw(42), draw(42));
  assert.notDeepEqual(draw(42), draw(43));
  assert.ok(draw(1).every((n) => n >= 0 && n < 10));
});
