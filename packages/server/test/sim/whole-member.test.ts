/**
 * Whole members under simulation (see support/simulation.ts): three and five
 * real members, each a Raft host, apply path, store and KV service on
 * simulated disks, network and time, driven by a seed through crashes,
 * restarts, partitions, heals and membership changes while clients write
 * and read and hold leases.
 *
 * RAFTKV_SIM_SEEDS sets how many seeds run for each cluster size (default 6;
 * a soak: RAFTKV_SIM_SEEDS=1000). A failing seed replays alone with
 * RAFTKV_SIM_SEED=<seed> RAFTKV_SIM_MEMBERS=<3 or 5>.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { UnsafeSwitches } from "./support/member.js";
import { simulate, type SimulationOptions } from "./support/simulation.js";

const seeds = Number(process.env.RAFTKV_SIM_SEEDS ?? 6);
const replay = process.env.RAFTKV_SIM_SEED === undefined ? undefined : Number(process.env.RAFTKV_SIM_SEED);
/** A run: about 8 simulated seconds of clients and faults, then healing and the final checks. */
const RUN = { durationMs: 8_000, clients: 4, keys: 3, leaseClients: 2 } as const;

function options(members: number, seed: number): SimulationOptions {
  return { seed, members, ...RUN };
}

async function runSeed(members: number, seed: number): Promise<void> {
  const result = await simulate(options(members, seed));
  const replayCommand = `RAFTKV_SIM_SEED=${seed} RAFTKV_SIM_MEMBERS=${members} node --test packages/server/dist/test/sim/whole-member.test.js`;
  assert.deepEqual(result.violations, [], `seed ${seed} with ${members} members failed; replay it with: ${replayCommand}`);
  // A run in which nothing succeeded would check nothing.
  assert.ok(result.operations.ok > 0, `seed ${seed}: no client operation succeeded (${JSON.stringify(result.operations)}); replay: ${replayCommand}`);
}

/** Whether one of the first `seeds` seeds with three members, under `unsafe`, gives a violation matching `expected`. */
async function caughtWithin(unsafe: UnsafeSwitches, expected: RegExp, seeds = 4): Promise<boolean> {
  for (let seed = 1; seed <= seeds; seed++) {
    const result = await simulate({ ...options(3, seed), unsafe });
    if (result.violations.some((violation) => expected.test(violation))) return true;
  }
  return false;
}

describe("whole members under simulation", () => {
  if (replay !== undefined) {
    const members = Number(process.env.RAFTKV_SIM_MEMBERS ?? 3);
    test(`seed ${replay} with ${members} members`, () => runSeed(members, replay));
    return;
  }

  for (const members of [3, 5]) {
    test(`${seeds} seeds with ${members} members: one leader a term, the same log and store everywhere, no acknowledged write lost, linearizable keys`, async () => {
      for (let seed = 1; seed <= seeds; seed++) await runSeed(members, members * 100_000 + seed);
    });
  }

  // The simulation has teeth: each UNSAFE switch breaks a guarantee, and one of a few seeds says which.
  test("with linearizable reads served from local state (UNSAFE), a history is not linearizable", async () => {
    assert.ok(await caughtWithin({ localReads: true }, /no order of the/));
  });

  test("with acknowledgements before fsync (UNSAFE), a crash leaves a member that cannot start again", async () => {
    assert.ok(await caughtWithin({ ackBeforeFsync: true }, /could not start/));
  });

  test("members join and are removed: within a few seeds a learner joins, is promoted and a voter leaves", async () => {
    let exercised = false;
    for (let seed = 1; seed <= 16 && !exercised; seed++) {
      const result = await simulate(options(3, seed));
      assert.deepEqual(result.violations, [], `seed ${seed} with 3 members failed`);
      exercised = result.membership.joined > 0 && result.membership.removed > 0;
    }
    assert.ok(exercised, "no seed of the first 16 changed the membership both ways");
  });

  test("a seed replays exactly: the same history, stores and verdict", async () => {
    const first = await simulate(options(3, 42));
    const second = await simulate(options(3, 42));
    assert.equal(second.digest, first.digest);
    assert.ok(first.faults > 0 && first.operations.ok > 0, `the run must exercise something: ${JSON.stringify(first)}`);
  });
});
