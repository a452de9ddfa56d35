import assert from "node:assert/strict";
import { test } from "node:test";
import { NoInstanceError } from "../src/errors.js";
import { ServicePicker } from "../src/recipes/picker.js";
import type { ServiceInstance } from "../src/recipes/service-registry.js";

function instance(id: string, weight?: number): ServiceInstance {
  return { id, address: `10.0.0.${id}`, port: 80, tags: undefined, meta: weight === undefined ? undefined : { weight }, lease: 1 };
}

const three = [instance("1"), instance("2"), instance("3")];

function picks(picker: ServicePicker, count: number): string[] {
  return Array.from({ length: count }, () => {
    const picked = picker.pick();
    picked.release();
    return picked.instance.id;
  });
}

test("round robin takes each instance in turn", () => {
  assert.deepEqual(picks(new ServicePicker("api", "round-robin", () => three), 6), ["1", "2", "3", "1", "2", "3"]);
});

test("random picks follow the random source", () => {
  const values = [0.1, 0.5, 0.9];
  const picker = new ServicePicker(
    "api",
    "random",
    () => three,
    () => values.shift() ?? 0,
  );
  assert.deepEqual(picks(picker, 3), ["1", "2", "3"]);
});

test("weighted picks follow meta.weight, spread out rather than in bursts", () => {
  const picker = new ServicePicker("api", "weighted", () => [instance("heavy", 3), instance("light", 1)]);
  const sequence = picks(picker, 8);
  assert.equal(sequence.filter((id) => id === "heavy").length, 6);
  assert.ok(!sequence.join(",").includes("heavy,heavy,heavy,heavy"), `no long burst: ${sequence.join(",")}`);
});

test("least outstanding requests goes to the least busy instance until requests end", () => {
  const picker = new ServicePicker("api", "least-outstanding", () => three);
  const held = [picker.pick(), picker.pick()];
  assert.deepEqual(held.map((pick) => pick.instance.id).sort(), ["1", "2"]);
  assert.equal(picker.pick().instance.id, "3", "the idle instance");
  held[0]?.release();
  held[0]?.release(); // releasing twice counts once
  assert.equal(picker.outstanding(instance("1")), 0);
  assert.equal(picker.pick().instance.id, "1");
});

test("run releases its pick however the request ends", async () => {
  const picker = new ServicePicker("api", "least-outstanding", () => three);
  await assert.rejects(
    picker.run(async () => Promise.reject(new Error("boom"))),
    /boom/,
  );
  assert.deepEqual(
    three.map((each) => picker.outstanding(each)),
    [0, 0, 0],
  );
});

test("a service without instances is a NoInstanceError", () => {
  assert.throws(() => new ServicePicker("api", "round-robin", () => []).pick(), NoInstanceError);
});
