import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Packr } from "msgpackr";
import { decodeLease, leaseKey } from "../src/layout.js";
import { applyOne, bytes, Harness, text } from "./support/harness.js";

describe("leases", () => {
  let h: Harness;
  before(async () => (h = await Harness.open()));
  after(() => h.close());
  const keysOfLease = (id: number): string[] => (h.store.lease(id)?.keys ?? []).map(text);

  test("grant with an id; TTLs are raised to the minimum and capped", async () => {
    assert.deepEqual(await h.ok({ op: "leaseGrant", ttl: 1, id: 100 }), {
      op: "leaseGrant",
      revision: 1,
      id: 100,
      ttl: 2,
      events: [],
    });
    assert.equal((await h.rejected({ op: "leaseGrant", ttl: 10, id: 100 })).message, "etcdserver: lease already exists");
    assert.equal((await h.rejected({ op: "leaseGrant", ttl: 9_000_000_001 })).message, "etcdserver: too large lease TTL");
    assert.equal((await h.ok({ op: "leaseGrant", ttl: 60, id: -7 })).id, -7);
  });

  test("generated ids derive from the raft index, so every replica picks the same", async () => {
    const replicas = [await Harness.open(), await Harness.open()];
    try {
      const ids = [];
      for (const replica of replicas) {
        const result = await applyOne(replica.store, 42, { op: "leaseGrant", ttl: 60 });
        assert.ok(result.status === "applied");
        ids.push(result.response.id);
      }
      assert.equal(ids[0], ids[1]);
      assert.ok(ids[0]! > 0 && Number.isSafeInteger(ids[0]));
    } finally {
      await Promise.all(replicas.map((replica) => replica.close()));
    }
  });

  test("keys attach with put, move between leases, and detach on put without lease or delete", async () => {
    await h.ok({ op: "leaseGrant", ttl: 600, id: 200 });
    await h.ok({ op: "leaseGrant", ttl: 600, id: 300 });
    await h.put("l1", "x", 200);
    await h.put("l2", "x", 200);
    await h.put("l3", "x", 200);
    assert.deepEqual(keysOfLease(200), ["l1", "l2", "l3"]);
    await h.put("l1", "y", 300);
    await h.put("l2", "y");
    await h.ok({ op: "deleteRange", key: bytes("l3") });
    assert.deepEqual([keysOfLease(200), keysOfLease(300)], [[], ["l1"]]);
  });

  test("revoke deletes the attached keys at one revision", async () => {
    await h.put("l4", "z", 300);
    const revision = h.store.revision;
    const revoked = await h.ok({ op: "leaseRevoke", id: 300 });
    assert.equal(revoked.revision, revision + 1);
    assert.deepEqual(
      revoked.events.map((event) => [event.type, text(event.kv.key), event.kv.modRevision]),
      [
        ["DELETE", "l1", revision + 1],
        ["DELETE", "l4", revision + 1],
      ],
    );
    assert.equal(h.store.lease(300), undefined);
    assert.equal((await h.rejected({ op: "leaseRevoke", id: 300 })).message, "etcdserver: requested lease not found");
  });

  test("revoking a lease without keys does not bump the revision", async () => {
    const revision = h.store.revision;
    assert.equal((await h.ok({ op: "leaseRevoke", id: 200 })).revision, revision);
  });

  test("checkpoints survive a reopen; checkpoints of unknown leases are skipped", async () => {
    await h.ok({ op: "leaseGrant", ttl: 600, id: 400 });
    const grantedAt = h.store.appliedIndex;
    await h.put("m1", "x", 400);
    await h.ok({
      op: "leaseCheckpoint",
      checkpoints: [
        { id: 400, remainingTtl: 321 },
        { id: 999, remainingTtl: 5 },
      ],
    });
    await h.reopen();
    assert.deepEqual(h.store.lease(400), { id: 400, ttl: 600, remainingTtl: 321, renewedAt: grantedAt, keys: [Buffer.from("m1")] });
    assert.equal(h.store.lease(999), undefined);
    const never = h.store.leases().find((lease) => lease.id === 100);
    assert.deepEqual(never, { id: 100, ttl: 2, remainingTtl: 2, renewedAt: 1 });
  });
});

// The leader judges expiry from the leases as of its applied index; a keep-alive may already sit in the log behind that.
describe("renewals against the leader's judgements", () => {
  let h: Harness;
  before(async () => (h = await Harness.open()));
  after(() => h.close());

  test("a keep-alive gives the lease its granted TTL again, from its own index; an unknown lease is not found", async () => {
    await h.ok({ op: "leaseGrant", ttl: 30, id: 1 });
    await h.ok({ op: "leaseCheckpoint", checkpoints: [{ id: 1, remainingTtl: 4 }], asOf: h.store.appliedIndex });
    const revision = h.store.revision;
    assert.deepEqual(await h.ok({ op: "leaseRenew", id: 1 }), { op: "leaseRenew", revision, ttl: 30, events: [] });
    assert.deepEqual(h.store.lease(1), { id: 1, ttl: 30, remainingTtl: 30, renewedAt: h.store.appliedIndex, keys: [] });
    assert.equal((await h.rejected({ op: "leaseRenew", id: 2 })).message, "etcdserver: requested lease not found");
  });

  test("a revoke judged before a renewal that applied first is skipped; one judged after it, or a client's, applies", async () => {
    await h.ok({ op: "leaseGrant", ttl: 30, id: 3 });
    await h.put("held", "v", 3);
    const judgedAt = h.store.appliedIndex;
    await h.ok({ op: "leaseRenew", id: 3 });
    const revision = h.store.revision;
    assert.deepEqual(await h.ok({ op: "leaseRevoke", id: 3, asOf: judgedAt }), { op: "leaseRevoke", revision, events: [] });
    assert.deepEqual(
      h.store.lease(3)?.keys.map((key) => text(key)),
      ["held"],
    );
    await h.ok({ op: "leaseRevoke", id: 3, asOf: h.store.appliedIndex });
    assert.equal(h.store.lease(3), undefined);
    await h.ok({ op: "leaseGrant", ttl: 30, id: 4 });
    await h.ok({ op: "leaseRenew", id: 4 });
    await h.ok({ op: "leaseRevoke", id: 4 });
    assert.equal(h.store.lease(4), undefined);
  });

  test("a checkpoint judged before a renewal leaves that lease's renewal alone and records the others", async () => {
    await h.ok({ op: "leaseGrant", ttl: 30, id: 5 });
    await h.ok({ op: "leaseGrant", ttl: 30, id: 6 });
    const judgedAt = h.store.appliedIndex;
    await h.ok({ op: "leaseRenew", id: 5 });
    await h.ok({
      op: "leaseCheckpoint",
      checkpoints: [
        { id: 5, remainingTtl: 2 },
        { id: 6, remainingTtl: 2 },
      ],
      asOf: judgedAt,
    });
    assert.deepEqual([h.store.lease(5)?.remainingTtl, h.store.lease(6)?.remainingTtl], [30, 2]);
    await h.reopen();
    assert.deepEqual([h.store.lease(5)?.remainingTtl, h.store.lease(6)?.remainingTtl], [30, 2]);
  });

  test("a lease record written before renewals were kept reads back as renewed at index 0", () => {
    assert.deepEqual(decodeLease(leaseKey(7), new Packr({ useRecords: false }).pack([10, 8])), { id: 7, ttl: 10, remainingTtl: 8, renewedAt: 0 });
  });
});
