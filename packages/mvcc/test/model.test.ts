/**
 * Model-based test: random sequences of every kind of request, applied to the
 * real store on LevelDB (sometimes several in one batch, with reopens in
 * between) and to the reference model, must give the same answers, the same
 * events and the same state. Writes may carry client request ids and be
 * retried: within the (small) window a retry changes nothing and answers
 * with the first outcome, beyond it the write applies afresh.
 * RAFTKV_SOAK=1 runs many more sequences.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import type { ApplyResult, KeyValue, Request, WatchEvent } from "../src/index.js";
import { applyOne, Harness, plain } from "./support/harness.js";
import { MIN_LEASE_TTL, Model, type ModelEvent, type ModelKv } from "./support/model.js";

const SOAK = process.env.RAFTKV_SOAK === "1";
const toBytes = (key: string): Uint8Array => Buffer.from(key, "latin1");
const fromBytes = (bytes: Uint8Array): string => Buffer.from(bytes).toString("latin1");
const endBytes = (end: string | undefined): Uint8Array | undefined => (end === undefined ? undefined : toBytes(end));

const key = fc.constantFrom("a", "ab", "b", "c", "d");
const rangeEnd = fc.option(fc.constantFrom("b", "c", "e", "\0"), { nil: undefined });
const leaseId = fc.constantFrom(0, 1, 2, 3);
const value = fc.string({ maxLength: 3 });
const REQUEST_ID_WINDOW = 2;

type Step =
  | { kind: "put"; key: string; value: string; lease: number }
  | { kind: "delete"; key: string; end: string | undefined }
  | { kind: "txn"; compareKey: string; version: number; puts: [string, string]; deleteKey: string }
  | { kind: "range"; key: string; end: string | undefined; back: number; limit: number }
  | { kind: "compact"; back: number }
  | { kind: "grant"; id: number; ttl: number }
  | { kind: "revoke"; id: number }
  | { kind: "batch"; puts: { key: string; value: string }[] }
  | { kind: "events"; sinceCompaction: number }
  | { kind: "reopen" }
  /** Sends again the `back`-th last write sent with a request id: the same request, or another one under its id. */
  | { kind: "retry"; back: number; sameRequest: boolean };

const step: fc.Arbitrary<Step> = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constant("put" as const), key, value, lease: leaseId }), weight: 6 },
  { arbitrary: fc.record({ kind: fc.constant("delete" as const), key, end: rangeEnd }), weight: 2 },
  {
    arbitrary: fc.record({
      kind: fc.constant("txn" as const),
      compareKey: key,
      version: fc.nat(3),
      puts: fc.tuple(key, key),
      deleteKey: key,
    }),
    weight: 2,
  },
  {
    arbitrary: fc.record({ kind: fc.constant("range" as const), key, end: rangeEnd, back: fc.nat(6), limit: fc.nat(3) }),
    weight: 3,
  },
  { arbitrary: fc.record({ kind: fc.constant("compact" as const), back: fc.nat(4) }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant("grant" as const), id: fc.constantFrom(1, 2, 3), ttl: fc.nat(10) }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant("revoke" as const), id: fc.constantFrom(1, 2, 3) }), weight: 1 },
  {
    arbitrary: fc.record({
      kind: fc.constant("batch" as const),
      puts: fc.array(fc.record({ key, value }), { minLength: 1, maxLength: 4 }),
    }),
    weight: 1,
  },
  { arbitrary: fc.record({ kind: fc.constant("events" as const), sinceCompaction: fc.nat(3) }), weight: 1 },
  { arbitrary: fc.constant({ kind: "reopen" as const }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant("retry" as const), back: fc.nat(REQUEST_ID_WINDOW + 1), sameRequest: fc.boolean() }), weight: 3 },
);

/** A step, and whether its write (if it is one) carries a request id. */
const element = fc.record({ step, withRequestId: fc.boolean() });

/** A write sent with a request id, and how it ended: what retries within the window must be answered with. */
interface SentWithId {
  readonly requestId: string;
  readonly step: Step;
  readonly request: Request;
  readonly outcome: unknown;
}

const asModel = (kv: KeyValue): ModelKv => ({
  key: fromBytes(kv.key),
  value: Buffer.from(kv.value).toString(),
  create: kv.createRevision,
  mod: kv.modRevision,
  version: kv.version,
  lease: kv.lease,
});

const asModelEvent = (event: WatchEvent): ModelEvent => ({
  type: event.type,
  key: fromBytes(event.kv.key),
  mod: event.kv.modRevision,
  value: Buffer.from(event.kv.value).toString(),
  prevValue: event.prevKv === undefined ? undefined : Buffer.from(event.prevKv.value).toString(),
});

/** Runs one step on both sides and checks they agree. */
class Runner {
  readonly model = new Model();
  private index = 0;
  private readonly sentWithIds: SentWithId[] = [];
  /** The model of the window: the last REQUEST_ID_WINDOW ids applied, oldest first. */
  private readonly window: string[] = [];
  private step: { readonly step: Step; readonly requestId: string | undefined } | undefined;

  constructor(readonly h: Harness) {}

  /** Runs a step whose write, if it makes one, carries `requestId`. */
  async runWithId(step: Step, requestId: string | undefined): Promise<void> {
    this.step = { step, requestId };
    try {
      await this.run(step);
    } finally {
      this.step = undefined;
    }
  }

  async run(step: Step): Promise<void> {
    switch (step.kind) {
      case "put":
        return this.put(step);
      case "delete":
        return this.expectApplied({ op: "deleteRange", key: toBytes(step.key), rangeEnd: endBytes(step.end) }, () =>
          this.model.write([{ delete: step.key, end: step.end }]),
        );
      case "txn":
        return this.txn(step);
      case "range":
        return this.range(step);
      case "compact":
        return this.compact(this.model.revision - step.back);
      case "grant":
        return this.grant(step.id, step.ttl);
      case "revoke":
        return this.revoke(step.id);
      case "batch":
        return this.batch(step.puts);
      case "events":
        return this.events(Math.min(this.model.compactRevision + step.sinceCompaction, this.model.revision + 1));
      case "reopen":
        return this.h.reopen();
      case "retry":
        return this.retry(step);
    }
  }

  /** A fresh id: the index of the entry that carries it first. */
  nextRequestId(): string {
    return `id-${this.index + 1}`;
  }

  private async retry({ back, sameRequest }: Extract<Step, { kind: "retry" }>): Promise<void> {
    const picked = this.sentWithIds[this.sentWithIds.length - 1 - back];
    if (picked === undefined) return;
    // An id sent afresh after it was forgotten stands for its latest request.
    const sent = this.sentWithIds.findLast((each) => each.requestId === picked.requestId)!;
    // Forgotten: the write applies afresh, checked like any new write.
    if (!this.window.includes(sent.requestId)) return this.runWithId(sent.step, sent.requestId);
    const request: Request = sameRequest ? sent.request : { op: "put", key: toBytes("a"), value: Buffer.from("reused") };
    const result = await applyOne(this.h.store, ++this.index, request, sent.requestId);
    if (!sameRequest) {
      assert.ok(result.status === "rejected");
      assert.equal(result.error.message, "raftkv: the request id was already used for a different request");
      return;
    }
    assert.ok(result.status === "duplicate", `a retry within the window was ${result.status}`);
    assert.deepEqual(plain(result.first), sent.outcome);
  }

  private remember(requestId: string, request: Request, result: ApplyResult): void {
    if (this.step === undefined || (result.status !== "applied" && result.status !== "rejected")) return;
    const outcome = result.status === "applied" ? { status: result.status, index: result.index, response: result.response } : result;
    this.sentWithIds.push({ requestId, step: this.step.step, request, outcome: plain(outcome) });
    this.window.push(requestId);
    if (this.window.length > REQUEST_ID_WINDOW) this.window.shift();
  }

  /** Checks what every step must leave equal. */
  async checkState(): Promise<void> {
    const { store } = this.h;
    assert.equal((await store.status()).storedRevisions, this.model.storedRevisions());
    assert.deepEqual([store.revision, store.compactRevision], [this.model.revision, this.model.compactRevision]);
    assert.deepEqual(store.range({ key: Uint8Array.of(0), rangeEnd: Uint8Array.of(0) }).kvs.map(asModel), this.model.range("\0", "\0"));
    for (const [id, ttl] of this.model.leases) {
      const lease = store.lease(id);
      assert.deepEqual([lease?.ttl, lease?.keys.map(fromBytes)], [ttl, this.model.keysOfLease(id)]);
    }
    assert.equal(store.leases().length, this.model.leases.size);
  }

  private async put(step: Extract<Step, { kind: "put" }>): Promise<void> {
    const request: Request = { op: "put", key: toBytes(step.key), value: Buffer.from(step.value), lease: step.lease, prevKv: true };
    if (step.lease !== 0 && !this.model.leases.has(step.lease)) {
      return this.expectRejected(request, "etcdserver: requested lease not found");
    }
    const previous = this.model.at(step.key);
    const result = await this.apply(request);
    this.model.write([{ put: step.key, value: step.value, lease: step.lease }]);
    assert.ok(result.status === "applied" && result.response.op === "put");
    assert.deepEqual(result.response.prevKv && asModel(result.response.prevKv), previous);
    assert.deepEqual(result.events.map(asModelEvent), this.model.eventsSince(this.model.revision));
  }

  private async txn(step: Extract<Step, { kind: "txn" }>): Promise<void> {
    const [first, second] = step.puts;
    const request: Request = {
      op: "txn",
      compare: [{ key: toBytes(step.compareKey), target: "VERSION", result: "EQUAL", version: step.version }],
      success: [first, second].map((k) => ({ op: "put" as const, key: toBytes(k), value: Buffer.from("t") })),
      failure: [{ op: "deleteRange", key: toBytes(step.deleteKey), rangeEnd: Uint8Array.of(0) }],
    };
    if (first === second) return this.expectRejected(request, "etcdserver: duplicate key given in txn request");
    const succeeded = (this.model.at(step.compareKey)?.version ?? 0) === step.version;
    const result = await this.apply(request);
    this.model.write(succeeded ? [first, second].map((k) => ({ put: k, value: "t", lease: 0 })) : [{ delete: step.deleteKey, end: "\0" }]);
    assert.ok(result.status === "applied" && result.response.op === "txn");
    assert.deepEqual([result.response.succeeded, result.response.revision], [succeeded, this.model.revision]);
  }

  private range(step: Extract<Step, { kind: "range" }>): void {
    const revision = this.model.revision - step.back;
    const read = () => this.h.store.range({ key: toBytes(step.key), rangeEnd: endBytes(step.end), revision, limit: step.limit });
    if (revision > 0 && revision < this.model.compactRevision) {
      assert.throws(read, { message: "etcdserver: mvcc: required revision has been compacted" });
      return;
    }
    const all = this.model.range(step.key, step.end, revision > 0 ? revision : this.model.revision);
    const limit = step.limit > 0 ? step.limit : all.length;
    const response = read();
    assert.deepEqual(response.kvs.map(asModel), all.slice(0, limit));
    assert.deepEqual([response.count, response.more, response.revision], [all.length, all.length > limit, this.model.revision]);
  }

  private async compact(revision: number): Promise<void> {
    const request: Request = { op: "compact", revision };
    if (revision <= this.model.compactRevision) {
      return this.expectRejected(request, "etcdserver: mvcc: required revision has been compacted");
    }
    await this.expectApplied(request, () => (this.model.compactRevision = revision));
  }

  private async grant(id: number, ttl: number): Promise<void> {
    const request: Request = { op: "leaseGrant", id, ttl };
    if (this.model.leases.has(id)) return this.expectRejected(request, "etcdserver: lease already exists");
    await this.expectApplied(request, () => this.model.leases.set(id, Math.max(ttl, MIN_LEASE_TTL)));
  }

  private async revoke(id: number): Promise<void> {
    const request: Request = { op: "leaseRevoke", id };
    if (!this.model.leases.has(id)) return this.expectRejected(request, "etcdserver: requested lease not found");
    await this.expectApplied(request, () => {
      this.model.write(this.model.keysOfLease(id).map((k) => ({ delete: k, end: undefined })));
      this.model.leases.delete(id);
    });
  }

  private async batch(puts: { key: string; value: string }[]): Promise<void> {
    const entries = puts.map(({ key, value }) => ({
      index: ++this.index,
      request: { op: "put" as const, key: toBytes(key), value: Buffer.from(value) },
    }));
    const results = await this.h.store.applyBatch(entries);
    for (const { key, value } of puts) this.model.write([{ put: key, value, lease: 0 }]);
    assert.ok(results.every((result) => result.status === "applied"));
  }

  private events(start: number): void {
    const page = this.h.store.eventsSince(start, undefined, 1_000_000);
    assert.deepEqual(page.events.map(asModelEvent), this.model.eventsSince(start));
  }

  private async apply(request: Request): Promise<ApplyResult> {
    const requestId = this.step?.requestId;
    const result = await applyOne(this.h.store, ++this.index, request, requestId);
    if (requestId !== undefined) this.remember(requestId, request, result);
    return result;
  }

  private async expectApplied(request: Request, onModel: () => void): Promise<void> {
    const result = await this.apply(request);
    assert.equal(result.status, "applied", result.status === "rejected" ? result.error.message : undefined);
    onModel();
  }

  private async expectRejected(request: Request, message: string): Promise<void> {
    const result = await this.apply(request);
    assert.ok(result.status === "rejected", `expected ${message}`);
    assert.equal(result.error.message, message);
  }
}

test("the store agrees with the reference model over random histories", async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(element, { minLength: 1, maxLength: SOAK ? 150 : 60 }), async (elements) => {
      const h = await Harness.open({ minLeaseTtl: MIN_LEASE_TTL, requestIdWindow: REQUEST_ID_WINDOW });
      try {
        const runner = new Runner(h);
        for (const { step, withRequestId } of elements) {
          await runner.runWithId(step, withRequestId ? runner.nextRequestId() : undefined);
          await runner.checkState();
        }
        const before = await h.store.hash();
        await h.reopen();
        assert.deepEqual(await h.store.hash(), before);
      } finally {
        await h.close();
      }
    }),
    { numRuns: SOAK ? 2000 : 150 },
  );
});
