/** The nemesis's pure parts: fault schedules and partition shapes. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { bridge, halves, isolate, ring, type Grudge } from "../src/harness/grudge.js";
import { Random } from "../src/harness/random.js";
import { churnSchedule, describeFault, parseNemesis, schedule } from "../src/harness/schedule.js";

const FIVE = ["n1", "n2", "n3", "n4", "n5"];

function assertSymmetric(grudge: Grudge): void {
  for (const [node, dropped] of grudge) for (const peer of dropped) assert.ok(grudge.get(peer)?.has(node), `${peer} still hears ${node}`);
}

/** The nodes `node` still hears, itself included. */
function heard(grudge: Grudge, nodes: readonly string[], node: string): string[] {
  return nodes.filter((other) => !grudge.get(node)?.has(other));
}

describe("fault schedules", () => {
  const options = { kinds: parseNemesis("partition,kill"), durationMs: 60_000, nodes: 3, quietMs: 5_000, faultMs: 5_000 };

  test("alternate quiet and fault windows that never overlap and end within the run", () => {
    const faults = schedule(options, new Random(7));
    assert.ok(faults.length >= 4, `only ${faults.length} faults in a minute`);
    faults.forEach((fault, i) => {
      assert.ok(fault.startMs < fault.endMs && fault.endMs <= options.durationMs);
      if (i > 0) assert.ok(fault.startMs > faults[i - 1]!.endMs, "a fault starts before the last one ended");
    });
    assert.deepEqual(new Set(faults.map((fault) => fault.fault.kind)), new Set(["partition", "kill"]));
  });

  test("replay from the seed", () => {
    assert.deepEqual(schedule(options, new Random(42)), schedule(options, new Random(42)));
    assert.notDeepEqual(schedule(options, new Random(42)), schedule(options, new Random(43)));
  });

  test("never draw a majority ring on three nodes, where it would cut nothing", () => {
    const shapes = schedule({ ...options, kinds: ["partition"], durationMs: 600_000 }, new Random(1)).map(({ fault }) =>
      fault.kind === "partition" ? fault.shape : "",
    );
    assert.ok(!shapes.includes("ring"));
    assert.ok(new Set(shapes).size === 3, `shapes drawn: ${[...new Set(shapes)].join(", ")}`);
  });

  test("membership churn is asked for by name, and hits the leader or a random member", () => {
    assert.deepEqual(parseNemesis("member,kill"), ["member", "kill"]);
    assert.ok(!parseNemesis("all").includes("member"));
    const faults = schedule({ ...options, kinds: ["member"], durationMs: 600_000 }, new Random(2)).map(({ fault }) => fault);
    assert.deepEqual(new Set(faults.map((fault) => (fault.kind === "member" ? fault.target : "other"))), new Set(["leader", "random"]));
    assert.equal(describeFault({ kind: "member", target: "leader" }), "remove the leader from the cluster, then add it back empty");
  });

  test("disk faults are asked for by name, each kind drawn, on the leader or a random member", () => {
    assert.deepEqual(parseNemesis("disk-full,disk-fail"), ["disk-full", "disk-fail"]);
    assert.ok(!parseNemesis("all").some((kind) => kind.startsWith("disk")));
    const faults = schedule({ ...options, kinds: ["disk-full", "disk-fail"], durationMs: 600_000 }, new Random(2)).map(({ fault }) => fault);
    assert.deepEqual(new Set(faults.map((fault) => fault.kind)), new Set(["disk-full", "disk-fail"]));
    assert.deepEqual(new Set(faults.map((fault) => ("target" in fault ? fault.target : "none"))), new Set(["leader", "random"]));
    assert.equal(describeFault({ kind: "disk-full", target: "leader" }), "fill the leader's disk");
    assert.equal(describeFault({ kind: "disk-fail", target: "random" }), "fail a random node's disk");
  });

  test("no nemesis, no faults; unknown kinds are refused", () => {
    assert.deepEqual(schedule({ ...options, kinds: parseNemesis("none") }, new Random(1)), []);
    assert.deepEqual(parseNemesis("all"), ["kill", "pause", "partition"]);
    assert.throws(() => parseNemesis("kill,flood"), /unknown nemesis flood/);
  });
});

describe("partition shapes", () => {
  test("halves leave a minority and a majority that cannot hear each other", () => {
    const grudge = halves(FIVE, new Random(3));
    assertSymmetric(grudge);
    const sizes = FIVE.map((node) => heard(grudge, FIVE, node).length).sort();
    assert.deepEqual(sizes, [2, 2, 3, 3, 3]);
  });

  test("isolating a node cuts it from everyone, and only it", () => {
    const grudge = isolate(FIVE, "n4");
    assertSymmetric(grudge);
    assert.deepEqual(heard(grudge, FIVE, "n4"), ["n4"]);
    for (const node of FIVE.filter((node) => node !== "n4")) assert.equal(heard(grudge, FIVE, node).length, 4);
  });

  test("a majority ring: everyone hears a majority, no two neighbours the same one", () => {
    const grudge = ring(FIVE, new Random(5));
    assertSymmetric(grudge);
    const majorities = FIVE.map((node) => heard(grudge, FIVE, node).join(","));
    for (const majority of majorities) assert.equal(majority.split(",").length, 3);
    assert.equal(new Set(majorities).size, 5);
  });

  test("a bridge hears both sides, which cannot hear each other", () => {
    const grudge = bridge(FIVE, new Random(9));
    assertSymmetric(grudge);
    const middle = FIVE.find((node) => heard(grudge, FIVE, node).length === 5);
    assert.ok(middle !== undefined, "no node hears everyone");
    for (const node of FIVE.filter((node) => node !== middle)) assert.equal(heard(grudge, FIVE, node).length, 3);
  });
});

describe("churn", () => {
  test("a fault on a random member every 1.5-2.5 s, over within 0.8-1.5 s and before the next, the same for the same seed", () => {
    const faults = churnSchedule("kill", 40_000, new Random(5));
    assert.ok(faults.length >= 15, `only ${faults.length} faults in 40 s`);
    faults.forEach((fault, i) => {
      assert.deepEqual(fault.fault, { kind: "kill", target: "random" });
      const length = fault.endMs - fault.startMs;
      assert.ok(length >= 800 && length <= 1_500, `a fault of ${length} ms`);
      if (i > 0) {
        const gap = fault.startMs - faults[i - 1]!.startMs;
        assert.ok(gap >= 1_500 && gap <= 2_500, `${gap} ms between faults`);
        assert.ok(fault.startMs >= faults[i - 1]!.endMs, "a fault starts before the last one ended");
      }
    });
    assert.ok(faults.at(-1)!.endMs <= 40_000);
    assert.deepEqual(
      churnSchedule("pause", 40_000, new Random(5)).map(({ startMs, endMs }) => [startMs, endMs]),
      faults.map(({ startMs, endMs }) => [startMs, endMs]),
    );
  });
});
