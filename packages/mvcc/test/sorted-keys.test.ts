import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { SortedKeys } from "../src/sorted-keys.js";

const key = fc.string({ unit: fc.constantFrom("a", "b", "c", "\0", "\u00ff"), maxLength: 4 });
const operation = fc.record({ add: fc.boolean(), key });

test("SortedKeys agrees with a sorted array under adds, deletes, lookups and range scans", () => {
  fc.assert(
    fc.property(fc.array(operation, { maxLength: 2000 }), key, fc.option(key), (operations, start, end) => {
      const keys = new SortedKeys();
      const model = new Set<string>();
      for (const { add, key } of operations) {
        if (add) {
          keys.add(key);
          model.add(key);
        } else {
          keys.delete(key);
          model.delete(key);
        }
      }
      const expected = [...model].sort().filter((k) => k >= start && (end === null || k < end));
      assert.deepEqual([...keys.between(start, end ?? undefined)], expected);
      assert.equal(keys.size, model.size);
      assert.equal(keys.find(start), model.has(start) ? start : undefined);
    }),
    { numRuns: 200 },
  );
});

test("SortedKeys built from sorted keys splits chunks as inserts grow them", () => {
  const initial = Array.from({ length: 3000 }, (_, i) => `k${String(i).padStart(5, "0")}`);
  const keys = SortedKeys.fromSorted(initial);
  for (let i = 0; i < 3000; i++) keys.add(`k${String(i).padStart(5, "0")}x`);
  const all = [...keys.between("", undefined)];
  assert.equal(all.length, 6000);
  assert.deepEqual(all, [...all].sort());
});
