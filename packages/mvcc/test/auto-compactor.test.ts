import assert from "node:assert/strict";
import { test } from "node:test";
import { AutoCompactor } from "../src/index.js";

const MINUTE = 60_000;

test("periodic mode compacts to the revision the store had one retention period ago", () => {
  const compactor = new AutoCompactor({ mode: "periodic", retentionMs: 60 * MINUTE });
  assert.equal(compactor.tick(0, 10, 0), undefined);
  assert.equal(compactor.tick(30 * MINUTE, 50, 0), undefined);
  assert.equal(compactor.tick(60 * MINUTE, 80, 0), 10);
  // Quiet for a tenth of the retention, then the next step.
  assert.equal(compactor.tick(61 * MINUTE, 90, 0), undefined);
  assert.equal(compactor.tick(90 * MINUTE, 95, 10), 50);
  assert.equal(compactor.tick(100 * MINUTE, 95, 50), undefined);
});

test("revision mode keeps the last N revisions, checking every interval", () => {
  const compactor = new AutoCompactor({ mode: "revision", retain: 100, checkIntervalMs: MINUTE });
  assert.equal(compactor.tick(0, 50, 0), undefined);
  assert.equal(compactor.tick(1, 250, 0), 150);
  assert.equal(compactor.tick(2, 400, 0), undefined);
  assert.equal(compactor.tick(MINUTE + 1, 400, 150), 300);
  assert.equal(compactor.tick(3 * MINUTE, 400, 300), undefined);
});
