/**
 * A lock-protected job that uses its fencing token. Three workers (each
 * with its own client, as separate processes would be) compete for the
 * lock `locks/nightly-report`; whoever holds it runs the job once and
 * writes the report. Every write of the job is a txn guarded by the lock:
 * it applies only while the worker's lock key still exists with the create
 * revision the worker got as its fencing token. One worker is made to lose
 * its lock mid-job (its lease is revoked, as if it had paused for longer
 * than the lease's TTL): its write is refused instead of overwriting the
 * work of whoever holds the lock now.
 *
 *   node examples/dist/locked-job/main.js
 */
import { type Client, type HeldLock, Lock } from "@raftkv/client";
import { connect, runMain } from "../shared/cluster.js";

const LOCK_NAME = "locks/nightly-report";
const REPORT_KEY = "jobs/nightly-report/output";
const WORKERS = ["worker-1", "worker-2", "worker-3"];
/** The second worker to get the lock stalls mid-job and loses it. */
const STALLING_TURN = 2;

runMain(async () => {
  const admin = connect();
  await admin.kv.delete(REPORT_KEY);
  const tokens: number[] = [];
  let refused = 0;
  let turns = 0;
  // All queue at once; the lock lets them through one at a time, first come first served.
  await Promise.all(
    WORKERS.map(async (name) => {
      const client = connect();
      try {
        const outcome = await runJob(client, admin, name, () => ++turns === STALLING_TURN);
        if (outcome === "refused") refused++;
        else tokens.push(outcome);
      } finally {
        await client.close();
      }
    }),
  );
  const report = await admin.kv.getOne(REPORT_KEY);
  console.log(`report written by ${report?.value.toString()}; ${tokens.length} runs written with tokens ${tokens.join(" < ")}; ${refused} stale write refused`);
  await admin.close();
});

/** Waits for the lock, does the work, writes the report under the fence; the token written, or "refused". */
async function runJob(client: Client, admin: Client, name: string, stalls: () => boolean): Promise<number | "refused"> {
  const held = await new Lock(client, LOCK_NAME, { ttl: 5 }).acquire();
  console.log(`${name} holds ${LOCK_NAME} with fencing token ${held.fencingToken}`);
  try {
    if (stalls()) await stallUntilLost(admin, held, name);
    const written = await client.kv.txn({
      compare: [held.guard()],
      success: [{ put: { key: REPORT_KEY, value: `${name} (token ${held.fencingToken})` } }],
    });
    console.log(
      written.succeeded
        ? `${name} wrote the report with token ${held.fencingToken}`
        : `${name}: write refused, token ${held.fencingToken} no longer holds the lock`,
    );
    return written.succeeded ? held.fencingToken : "refused";
  } finally {
    await held.release();
  }
}

/** Simulates a worker that stops for longer than its lease: the lease ends, the holder is told through `lost`. */
async function stallUntilLost(admin: Client, held: HeldLock, name: string): Promise<void> {
  await admin.lease.revoke(held.leaseId);
  // The keep-alive may have noticed already, before anyone listens.
  if (!held.lost.aborted) await new Promise((resolve) => held.lost.addEventListener("abort", resolve, { once: true }));
  console.log(`${name} lost the lock while working: ${(held.lost.reason as Error).message}`);
}
