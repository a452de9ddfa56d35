import assert from "node:assert/strict";
import { test } from "node:test";
import { mostCaughtUpVoter } from "../src/successor.js";
import { NONE } from "../src/types.js";

test("the successor is the other voter that matches the leader's log furthest, the lowest id among equals", () => {
  const cases: [voters: number[], matches: Record<number, number>, expected: number][] = [
    [[1, 2, 3], { 1: 9, 2: 5, 3: 7 }, 3],
    [[3, 2, 1], { 1: 9, 2: 7, 3: 7 }, 2],
    [[1, 2, 3], { 1: 9, 2: 0, 3: 0 }, 2],
    [[1, 4], { 1: 9 }, NONE], // no progress known for 4
    [[1], { 1: 9 }, NONE],
    [[2, 3], { 1: 9, 2: 4, 3: 6 }, 3], // a removed leader (1) is no voter any more
  ];
  for (const [voters, matches, expected] of cases) {
    assert.equal(
      mostCaughtUpVoter(voters, 1, (id) => matches[id]),
      expected,
      `voters ${voters}, matches ${JSON.stringify(matches)}`,
    );
  }
});
