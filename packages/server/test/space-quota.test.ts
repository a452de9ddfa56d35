/**
 * The space quota's rules, without a cluster: which writes grow the store,
 * when one is refused, when NOSPACE is raised (once), and the quota that
 * --quota-backend-bytes means. Real clusters against a real quota are in the
 * root test/disk-quota.test.ts.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Request } from "@raftkv/mvcc";
import { pino } from "pino";
import type { AlarmMember } from "../src/alarms.js";
import { DEFAULT_QUOTA_BACKEND_BYTES, effectiveQuotaBytes } from "../src/config.js";
import { SpaceQuota, costOf } from "../src/space-quota.js";

const bytes = (length: number) => new Uint8Array(length);
const put: Request = { op: "put", key: bytes(10), value: bytes(1000) };
const del: Request = { op: "deleteRange", key: bytes(10) };

test("what a write adds to the store, as etcd counts it", () => {
  const cases: [string, Request, number][] = [
    ["a put: its key, value and a key's overhead", put, 256 + 10 + 1000],
    ["a delete", del, 0],
    ["a compaction", { op: "compact", revision: 5 }, 0],
    ["a lease grant", { op: "leaseGrant", ttl: 60 }, 64],
    ["a revocation", { op: "leaseRevoke", id: 1 }, 0],
    ["a keep-alive", { op: "leaseRenew", id: 1 }, 0],
    ["a checkpoint", { op: "leaseCheckpoint", checkpoints: [{ id: 1, remainingTtl: 5 }], asOf: 7 }, 0],
    ["a txn: its dearer branch", { op: "txn", success: [put, put], failure: [put, del] }, 2 * (256 + 1010)],
    ["a txn of reads and deletes", { op: "txn", success: [{ op: "range", key: bytes(1) }, del] }, 0],
    ["a nested txn", { op: "txn", success: [{ op: "txn", failure: [put] }] }, 256 + 1010],
  ];
  for (const [what, request, cost] of cases) assert.equal(costOf(request), cost, what);
});

test("--quota-backend-bytes: 0 is etcd's 2 GiB, negative is no quota", () => {
  assert.equal(effectiveQuotaBytes(0), DEFAULT_QUOTA_BACKEND_BYTES);
  assert.equal(DEFAULT_QUOTA_BACKEND_BYTES, 2 * 1024 ** 3);
  assert.equal(effectiveQuotaBytes(-1), Infinity);
  assert.equal(effectiveQuotaBytes(1_000_000), 1_000_000);
});

/** A quota over a store of `storeBytes`, counting the raises it asks for. */
function quotaOver(storeBytes: number, quotaBytes: number, active: AlarmMember[] = []) {
  const raised: number[] = [];
  const quota = new SpaceQuota({
    memberId: 7,
    quotaBytes,
    reserveBytes: 0,
    dataDir: ".",
    storeSize: async () => storeBytes,
    alarms: { isActive: (type) => active.some((alarm) => alarm.alarm === type), list: (type) => active.filter((alarm) => alarm.alarm === type) },
    raise: async () => {
      raised.push(7);
      active.push({ memberId: 7, alarm: "NOSPACE" });
    },
    logger: pino({ level: "silent" }),
  });
  return { quota, raised };
}

test("a write that would pass the quota is refused and raises NOSPACE once; writes that do not grow the store go on", async () => {
  const { quota, raised } = quotaOver(10_000, 10_500);
  await quota.check();
  assert.deepEqual(raised, [], "under the quota, nothing is raised");
  assert.doesNotThrow(() => quota.admit({ op: "put", key: bytes(1), value: bytes(10) }));
  assert.throws(() => quota.admit(put), /etcdserver: mvcc: database space exceeded/);
  // The raise measures again first: the fakes answer at once, so one turn of the loop settles it.
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(raised, [7]);
  assert.throws(() => quota.admit({ op: "put", key: bytes(1), value: bytes(1) }), /database space exceeded/, "every growing write, once NOSPACE is active");
  assert.doesNotThrow(() => quota.admit(del));
  assert.doesNotThrow(() => quota.admit({ op: "compact", revision: 2 }));
  await quota.check();
  assert.deepEqual(raised, [7], "raised once while active");
});

test("a member already over the quota raises NOSPACE when it measures, and again after a disarm", async () => {
  const active: AlarmMember[] = [];
  const { quota, raised } = quotaOver(20_000, 10_000, active);
  await quota.check();
  assert.deepEqual(raised, [7]);
  active.length = 0; // disarmed
  await quota.check();
  assert.deepEqual(raised, [7, 7]);
});

test("another member's NOSPACE refuses growing writes here too", () => {
  const { quota, raised } = quotaOver(0, Infinity, [{ memberId: 9, alarm: "NOSPACE" }]);
  assert.throws(() => quota.admit(put), /database space exceeded/);
  assert.doesNotThrow(() => quota.admit(del));
  assert.deepEqual(raised, []);
});

test("a measure begun while NOSPACE was raised, and finished after its disarm, neither refuses a write nor raises it again", async () => {
  const active: AlarmMember[] = [{ memberId: 7, alarm: "NOSPACE" }];
  let storeBytes = 20_000;
  let disarmDuringMeasure = true;
  const raised: number[] = [];
  const quota = new SpaceQuota({
    memberId: 7,
    quotaBytes: 10_000,
    reserveBytes: 0,
    dataDir: ".",
    // The operator freed space and disarmed while this measure was under way: it read the old size.
    storeSize: async () => {
      const measured = storeBytes;
      if (disarmDuringMeasure) active.length = 0;
      return measured;
    },
    alarms: { isActive: (type) => active.some((alarm) => alarm.alarm === type), list: (type) => active.filter((alarm) => alarm.alarm === type) },
    raise: async () => {
      raised.push(7);
    },
    logger: pino({ level: "silent" }),
  });
  await quota.check();
  assert.deepEqual(raised, [], "raised again on a size measured before the disarm");
  storeBytes = 10;
  disarmDuringMeasure = false;
  assert.doesNotThrow(() => quota.admit(put), "refused on a size measured before the disarm");
  await quota.check();
  assert.doesNotThrow(() => quota.admit(put));
  storeBytes = 20_000;
  await quota.check();
  assert.deepEqual(raised, [7], "a fresh measure over the quota raises it");
});

test("a raise measures again first: space freed since the last measure raises nothing", async () => {
  const sizes = [20_000, 10];
  const raised: number[] = [];
  const quota = new SpaceQuota({
    memberId: 7,
    quotaBytes: 10_000,
    reserveBytes: 0,
    dataDir: ".",
    storeSize: async () => sizes.shift() ?? 10,
    alarms: { isActive: () => false, list: () => [] },
    raise: async () => {
      raised.push(7);
    },
    logger: pino({ level: "silent" }),
  });
  await quota.check();
  assert.deepEqual(raised, [], "raised on a measure the operator had made out of date");
});
