/**
 * Random histories of saves, conflicts, snapshots, releases, clean reopens
 * and power losses on {@link SimDisk}, checked against a model: after every
 * crash the WAL recovers exactly the acknowledged records plus some prefix
 * of the unacknowledged ones, in order. Armed crashes strike at any
 * file-system operation: mid-save, mid-roll-over, mid-release, mid-recovery.
 *
 * WAL_MODEL_RUNS sets the number of histories (RAFTKV_SOAK=1: 20,000).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { setImmediate as nextTurn } from "node:timers/promises";
import fc from "fast-check";
import { EMPTY_HARD_STATE, type Entry, type HardState, type SnapshotMeta } from "@raftkv/raft";
import { SimDisk, Wal } from "../src/index.js";
import { entries, plain, snapshotAt, type PlainState } from "./support/fixtures.js";

const runs = Number(process.env.WAL_MODEL_RUNS ?? (process.env.RAFTKV_SOAK ? 20_000 : 500));
const DIR = "/data/wal";

type Step =
  | { kind: "append"; back: number; count: number; newTerm: boolean; withHardState: boolean; await: boolean }
  | { kind: "hardState"; vote: number; await: boolean }
  | { kind: "takeSnapshot"; depth: number; await: boolean }
  /** At `offset` from the last index: a leader's snapshot may land inside a divergent log. */
  | { kind: "installSnapshot"; offset: number; await: boolean }
  | { kind: "release"; slack: number }
  | { kind: "reopen" }
  | { kind: "crash"; turns: number }
  /** Crashes the disk just before the file-system operation after the next `operations` ones. */
  | { kind: "armCrash"; operations: number };

const stepArbitrary: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({
      kind: fc.constant("append" as const),
      back: fc.nat(4),
      count: fc.integer({ min: 1, max: 6 }),
      newTerm: fc.boolean(),
      withHardState: fc.boolean(),
      await: fc.boolean(),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("hardState" as const), vote: fc.nat(3), await: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("takeSnapshot" as const), depth: fc.nat(5), await: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("installSnapshot" as const), offset: fc.integer({ min: -4, max: 3 }), await: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("release" as const), slack: fc.nat(3) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("reopen" as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("crash" as const), turns: fc.nat(6) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("armCrash" as const), operations: fc.nat(12) }) },
);

/** What a record does to the log, in model form. */
type ModelOp =
  | { kind: "entry"; entry: Entry }
  | { kind: "hardState"; hardState: HardState }
  | { kind: "snapshotTaken"; snapshot: SnapshotMeta }
  | { kind: "snapshotInstalled"; snapshot: SnapshotMeta };

/** The log as a plain list after the snapshot: the simplest correct reading of the spec. */
class ModelLog {
  hardState: HardState = EMPTY_HARD_STATE;
  snapshot: SnapshotMeta | undefined;
  entries: Entry[] = [];

  get snapshotIndex(): number {
    return this.snapshot?.index ?? 0;
  }

  get lastIndex(): number {
    return this.entries.at(-1)?.index ?? this.snapshotIndex;
  }

  get lastTerm(): number {
    return Math.max(this.entries.at(-1)?.term ?? 0, this.snapshot?.term ?? 0, this.hardState.term, 1);
  }

  apply(op: ModelOp): void {
    switch (op.kind) {
      case "entry":
        this.entries = [...this.entries.filter((e) => e.index < op.entry.index), op.entry];
        return;
      case "hardState":
        this.hardState = op.hardState;
        return;
      case "snapshotTaken":
        this.snapshot = op.snapshot;
        this.entries = this.entries.filter((e) => e.index > op.snapshot.index);
        return;
      case "snapshotInstalled":
        this.snapshot = op.snapshot;
        this.entries = [];
        return;
    }
  }

  copy(): ModelLog {
    return Object.assign(new ModelLog(), { hardState: this.hardState, snapshot: this.snapshot, entries: [...this.entries] });
  }

  plain(): PlainState {
    return plain(this);
  }
}

/** Runs one history; the WAL under test against the model. */
class History {
  private wal!: Wal;
  /** State at the last crash or reopen, and the ops issued since, some acknowledged. */
  private base = new ModelLog();
  private ops: ModelOp[] = [];
  private acknowledged = 0;
  /** The model with every issued op applied: what the next step builds on. */
  private issued = new ModelLog();
  private unsettled: Promise<unknown>[] = [];
  /** The disk's crash count when the WAL was opened. */
  private mountedAt = 0;

  constructor(private disk: SimDisk) {}

  async start(): Promise<void> {
    this.wal = await this.open();
  }

  /** Opens the WAL, again if a crash strikes during recovery. */
  private async open(): Promise<Wal> {
    for (;;) {
      this.mountedAt = this.disk.crashes;
      try {
        return await Wal.open(DIR, { fs: this.disk.mount(), segmentBytes: 600 });
      } catch (error) {
        if (!this.crashedSinceMount()) throw error;
      }
    }
  }

  async run(step: Step): Promise<void> {
    if (this.crashedSinceMount()) await this.recoverFromCrash();
    try {
      await this.perform(step);
    } catch (error) {
      if (!this.crashedSinceMount()) throw error;
    }
  }

  private async perform(step: Step): Promise<void> {
    switch (step.kind) {
      case "append":
        return this.append(step);
      case "hardState":
        return this.save([{ kind: "hardState", hardState: this.nextHardState(step.vote) }], step.await);
      case "takeSnapshot":
        return this.takeSnapshot(step.depth, step.await);
      case "installSnapshot": {
        const index = this.issued.lastIndex + step.offset;
        const snapshot = snapshotAt(Math.max(index, this.issued.snapshotIndex), this.issued.lastTerm);
        return this.save([{ kind: "snapshotInstalled", snapshot }], step.await);
      }
      case "release":
        return this.wal.releaseTo(this.issued.snapshotIndex + step.slack);
      case "reopen":
        await this.wal.close();
        await Promise.allSettled(this.unsettled);
        return this.reopenAndCheck();
      case "crash":
        for (let turn = 0; turn < step.turns; turn++) await nextTurn();
        this.disk.crash();
        return this.recoverFromCrash();
      case "armCrash":
        return this.disk.crashAfterOperations(step.operations);
    }
  }

  private crashedSinceMount(): boolean {
    return this.disk.crashes !== this.mountedAt;
  }

  private async recoverFromCrash(): Promise<void> {
    await Promise.allSettled(this.unsettled);
    await this.reopenAndCheck();
  }

  async finish(): Promise<void> {
    await this.wal.close();
  }

  private append(step: Extract<Step, { kind: "append" }>): Promise<void> {
    const first = Math.max(this.issued.snapshotIndex + 1, this.issued.lastIndex + 1 - step.back);
    const term = this.issued.lastTerm + (step.newTerm ? 1 : 0);
    const ops: ModelOp[] = entries(first, first + step.count - 1, term).map((entry) => ({ kind: "entry", entry }));
    if (step.withHardState) ops.push({ kind: "hardState", hardState: { term, vote: 1, commit: first - 1 } });
    return this.save(ops, step.await);
  }

  private takeSnapshot(depth: number, wait: boolean): Promise<void> {
    const index = this.issued.lastIndex - depth;
    const covered = this.issued.entries.find((e) => e.index === index);
    if (!covered) return Promise.resolve();
    return this.save([{ kind: "snapshotTaken", snapshot: snapshotAt(index, covered.term) }], wait);
  }

  private nextHardState(vote: number): HardState {
    return { term: this.issued.lastTerm, vote, commit: Math.min(this.issued.hardState.commit + 1, this.issued.lastIndex) };
  }

  private async save(ops: ModelOp[], wait: boolean): Promise<void> {
    for (const op of ops) this.issued.apply(op);
    this.ops.push(...ops);
    const end = this.ops.length;
    const saved = this.submit(ops).then(() => {
      this.acknowledged = Math.max(this.acknowledged, end);
    });
    // Handled here so that a save failed by a crash is no unhandled rejection.
    saved.catch(() => undefined);
    this.unsettled.push(saved);
    if (wait) await saved;
  }

  private submit(ops: ModelOp[]): Promise<void> {
    const [first] = ops;
    if (first?.kind === "snapshotTaken") return this.wal.saveSnapshot(first.snapshot);
    if (first?.kind === "snapshotInstalled") return this.wal.save({ snapshot: first.snapshot });
    const entryOps = ops.flatMap((op) => (op.kind === "entry" ? [op.entry] : []));
    const hardState = ops.flatMap((op) => (op.kind === "hardState" ? [op.hardState] : []))[0];
    return this.wal.save({ entries: entryOps, ...(hardState ? { hardState } : {}) });
  }

  /** Reopens and checks the state is the base plus every acknowledged op plus a prefix of the rest. */
  private async reopenAndCheck(): Promise<void> {
    this.wal = await this.open();
    const recovered = plain(this.wal.recovered);
    const candidate = this.base.copy();
    for (const op of this.ops.slice(0, this.acknowledged)) candidate.apply(op);
    let matched: ModelLog | undefined;
    for (let kept = this.acknowledged; kept <= this.ops.length; kept++) {
      if (isDeepEqual(candidate.plain(), recovered)) {
        matched = candidate;
        break;
      }
      const op = this.ops[kept];
      if (op) candidate.apply(op);
    }
    assert.ok(matched, `recovered state matches no prefix at or after the ${this.acknowledged} acknowledged ops:\n${JSON.stringify(recovered)}`);
    this.base = matched.copy();
    this.issued = matched.copy();
    this.ops = [];
    this.acknowledged = 0;
    this.unsettled = [];
  }
}

function isDeepEqual(a: unknown, b: unknown): boolean {
  try {
    assert.deepStrictEqual(a, b);
    return true;
  } catch {
    return false;
  }
}

test(`random histories with power losses recover every acknowledged record (${runs} histories)`, async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(stepArbitrary, { minLength: 1, maxLength: 80, size: "max" }),
      fc.integer({ min: 1, max: 1 << 30 }),
      fc.constantFrom(true, true, true, false),
      async (steps, seed, tornWrites) => {
        const history = new History(new SimDisk({ seed, tornWrites }));
        await history.start();
        for (const step of steps) await history.run(step);
        await history.run({ kind: "crash", turns: 0 });
        await history.finish();
      },
    ),
    { numRuns: runs },
  );
});
