/**
 * RaftHost.atApplyBoundary: a capture (a backup's snapshot) runs only where
 * everything applied stands at one index. The member registry takes a batch's
 * changes before the store does, so a capture in the middle of an apply
 * would pair the two at different indexes.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { SimDisk } from "@raftkv/wal";
import { encode, loneLeader, until } from "./support/lone-leader.js";

test("a capture asked while a batch is being applied runs once that apply ends, and sees the index it reached", async () => {
  let holding = false;
  let release: (() => void) | undefined;
  const { host, applied } = await loneLeader(new SimDisk(), async () => {
    if (!holding) return;
    await new Promise<void>((resolve) => {
      release = resolve;
    });
  });
  try {
    holding = true;
    const position = host.propose([encode("held")]);
    assert.ok(position, "a leader takes the proposal");
    await until("the apply to be held open", () => release !== undefined);
    const seen: number[] = [];
    const captured = host.atApplyBoundary((appliedIndex) => {
      seen.push(appliedIndex);
      return applied.slice();
    });
    // A turn of the event loop later the apply is still open, so the capture must not have run.
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(seen, []);
    holding = false;
    release?.();
    assert.deepEqual(await captured, ["held"]);
    assert.deepEqual(seen, [position.index]);
  } finally {
    await host.stop();
  }
});

test("a capture asked while nothing is being applied runs at once", async () => {
  const { host, applied } = await loneLeader(new SimDisk());
  try {
    host.propose([encode("first")]);
    await until("the write to apply", () => applied.includes("first"));
    let ran = false;
    const captured = host.atApplyBoundary((appliedIndex, conf) => {
      ran = true;
      return { appliedIndex, voters: conf.voters };
    });
    assert.equal(ran, true, "the capture ran before atApplyBoundary returned");
    assert.deepEqual(await captured, { appliedIndex: host.status().applied, voters: [1] });
  } finally {
    await host.stop();
  }
});
