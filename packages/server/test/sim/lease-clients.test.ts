/**
 * The lease clients' judge of revocations (support/lease-clients.ts), on
 * real stores: a member restarted on a store behind its log (LevelDB is
 * written behind the applies, so a crash can take back applied entries)
 * lacks a lease until it applies the grant again, and that is no revocation;
 * a revoke applied before the TTL is a finding all the same.
 */
import assert from "node:assert/strict";
import { afterEach, describe, test } from "node:test";
import { MvccStore, withoutFiles, type LogEntry } from "@raftkv/mvcc";
import { SeededRng } from "@raftkv/raft";
import { LeaseClients } from "./support/lease-clients.js";
import { newStore, type SimMember } from "./support/member.js";
import { Scheduler } from "./support/scheduler.js";

const MEMBER = 1;
const LEASE_ID = 7;
const TTL_SECONDS = 2;
/** The log every store applies: a put, then the lease's grant. */
const PUT: LogEntry = { index: 1, request: { op: "put", key: new TextEncoder().encode("k"), value: new Uint8Array([1]) } };
const GRANT: LogEntry = { index: 2, request: { op: "leaseGrant", ttl: TTL_SECONDS, id: LEASE_ID } };
/** Applied at once: sooner than the TTL after the grant. */
const REVOKE: LogEntry = { index: 3, request: { op: "leaseRevoke", id: LEASE_ID } };

const opened: MvccStore[] = [];
afterEach(async () => {
  for (const store of opened.splice(0)) await store.close();
});

async function emptyStore(): Promise<MvccStore> {
  const store = await MvccStore.open(withoutFiles(newStore()));
  opened.push(store);
  return store;
}

/** Lease clients whose one grant the member answers by applying the log's put and grant to `store`; they stop after it. */
async function clientsHoldingTheLease(scheduler: Scheduler, store: MvccStore): Promise<LeaseClients> {
  let granted = false;
  const member = {
    kv: {
      leaseGrant: async () => {
        await store.applyBatch([PUT, GRANT]);
        granted = true;
        return { id: LEASE_ID, ttl: TTL_SECONDS };
      },
    },
  } as unknown as SimMember;
  const clients = new LeaseClients({ scheduler, pickMember: () => member, running: () => !granted }, new SeededRng(1));
  clients.start(1);
  // The client starts within 200 ms and is answered at once.
  await scheduler.runUntil(300);
  assert.ok(granted && !clients.busy, "the client was granted its lease");
  clients.noteApplied(MEMBER, store);
  return clients;
}

describe("the lease clients' judge of revocations", () => {
  test("a member restarted on a store behind the grant is no witness of a revocation while it applies the log again", async () => {
    const scheduler = new Scheduler();
    const clients = await clientsHoldingTheLease(scheduler, await emptyStore());
    const restarted = await emptyStore();
    await restarted.applyBatch([PUT]);
    clients.noteApplied(MEMBER, restarted);
    assert.deepEqual(clients.violations, []);
    assert.deepEqual(clients.unrevoked, [LEASE_ID]);
    await restarted.applyBatch([GRANT]);
    clients.noteApplied(MEMBER, restarted);
    assert.deepEqual(clients.unrevoked, [LEASE_ID]);
  });

  test("a revoke applied sooner than the TTL after the grant is a finding, on a restarted store too", async () => {
    const scheduler = new Scheduler();
    const clients = await clientsHoldingTheLease(scheduler, await emptyStore());
    const restarted = await emptyStore();
    await restarted.applyBatch([PUT, GRANT, REVOKE]);
    clients.noteApplied(MEMBER, restarted);
    assert.deepEqual(clients.unrevoked, []);
    assert.match(clients.violations.join("\n"), new RegExp(`lease ${LEASE_ID} was revoked at \\d+ ms, sooner than its TTL`));
  });
});
