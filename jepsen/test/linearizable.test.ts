/** The classic small cases, in the style of Knossos's examples, and what the reports say. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { checkHistory, formatReport, generateRegisterHistory, injectAnomaly, parseJsonl, registerModel, reportJson, setModel } from "../src/index.js";
import { checkEdn, onlyFailure } from "./support/check.js";

describe("register", () => {
  test("an empty history is linearizable", () => {
    assert.equal(checkEdn("").valid, true);
  });

  test("a read before any write sees nil", () => {
    assert.equal(checkEdn("{:process 0, :type :invoke, :f :read}\n{:process 0, :type :ok, :f :read, :value nil}").valid, true);
    assert.equal(checkEdn("{:process 0, :type :invoke, :f :read}\n{:process 0, :type :ok, :f :read, :value 0}").valid, false);
  });

  test("a read concurrent with a write may see either value", () => {
    for (const seen of ["1", "2"]) {
      const result = checkEdn(`
        {:process 0, :type :invoke, :f :write, :value 1}
        {:process 0, :type :ok, :f :write, :value 1}
        {:process 0, :type :invoke, :f :write, :value 2}
        {:process 1, :type :invoke, :f :read, :value nil}
        {:process 1, :type :ok, :f :read, :value ${seen}}
        {:process 0, :type :ok, :f :write, :value 2}`);
      assert.equal(result.valid, true, `read ${seen}`);
    }
  });

  test("a read after a write completed cannot see the value before it", () => {
    const result = checkEdn(`
      {:process 0, :type :invoke, :f :write, :value 1}
      {:process 0, :type :ok, :f :write, :value 1}
      {:process 0, :type :invoke, :f :write, :value 2}
      {:process 0, :type :ok, :f :write, :value 2}
      {:process 1, :type :invoke, :f :read, :value nil}
      {:process 1, :type :ok, :f :read, :value 1}`);
    assert.equal(result.valid, false);
    const failure = onlyFailure(result);
    assert.equal(failure.operation.completion?.line, 7);
    assert.deepEqual(failure.possibleStates, [2]);
    assert.deepEqual(
      failure.linearized.map(({ operation, state }) => [operation.value, state]),
      [
        [1, 1],
        [2, 2],
      ],
    );
  });

  test("two reads cannot see concurrent writes in opposite orders", () => {
    const result = checkEdn(`
      {:process 0, :type :invoke, :f :write, :value 1}
      {:process 1, :type :invoke, :f :write, :value 2}
      {:process 2, :type :invoke, :f :read, :value nil}
      {:process 2, :type :ok, :f :read, :value 1}
      {:process 2, :type :invoke, :f :read, :value nil}
      {:process 2, :type :ok, :f :read, :value 2}
      {:process 3, :type :invoke, :f :read, :value nil}
      {:process 3, :type :ok, :f :read, :value 1}
      {:process 0, :type :ok, :f :write, :value 1}
      {:process 1, :type :ok, :f :write, :value 2}`);
    assert.equal(result.valid, false);
    assert.equal(onlyFailure(result).operation.completion?.line, 9);
  });

  test("a compare-and-set that failed did not happen; one that succeeded did", () => {
    const history = (casOutcome: string) => `
      {:process 0, :type :invoke, :f :write, :value 1}
      {:process 0, :type :ok, :f :write, :value 1}
      {:process 1, :type :invoke, :f :cas, :value [1 2]}
      {:process 1, :type ${casOutcome}, :f :cas, :value [1 2]}
      {:process 0, :type :invoke, :f :read, :value nil}
      {:process 0, :type :ok, :f :read, :value 1}`;
    assert.equal(checkEdn(history(":fail")).valid, true);
    assert.equal(checkEdn(history(":ok")).valid, false);
  });

  test("a compare-and-set cannot succeed against another value", () => {
    const result = checkEdn(`
      {:process 0, :type :invoke, :f :write, :value 1}
      {:process 0, :type :ok, :f :write, :value 1}
      {:process 1, :type :invoke, :f :cas, :value [3 4]}
      {:process 1, :type :ok, :f :cas, :value [3 4]}`);
    assert.equal(result.valid, false);
    assert.deepEqual(onlyFailure(result).operation.value, [3, 4]);
  });

  test("a crashed write may take effect long after it crashed", () => {
    const result = checkEdn(`
      {:process 0, :type :invoke, :f :write, :value 1}
      {:process 0, :type :info, :f :write, :value 1}
      {:process 1, :type :invoke, :f :read, :value nil}
      {:process 1, :type :ok, :f :read, :value nil}
      {:process 1, :type :invoke, :f :read, :value nil}
      {:process 1, :type :ok, :f :read, :value 1}`);
    assert.equal(result.valid, true);
  });

  test("a crashed write may never take effect, and an unfinished one likewise", () => {
    for (const crash of ["{:process 0, :type :info, :f :write, :value 1}", ""]) {
      const result = checkEdn(`
        {:process 0, :type :invoke, :f :write, :value 1}
        ${crash}
        {:process 1, :type :invoke, :f :read, :value nil}
        {:process 1, :type :ok, :f :read, :value nil}`);
      assert.equal(result.valid, true, crash);
    }
  });

  test("a crashed write takes effect once: it cannot be seen, then unseen", () => {
    const result = checkEdn(`
      {:process 0, :type :invoke, :f :write, :value 1}
      {:process 0, :type :info, :f :write, :value 1}
      {:process 1, :type :invoke, :f :read, :value nil}
      {:process 1, :type :ok, :f :read, :value 1}
      {:process 1, :type :invoke, :f :read, :value nil}
      {:process 1, :type :ok, :f :read, :value nil}`);
    assert.equal(result.valid, false);
  });

  test("a crashed compare-and-set takes effect only where it could succeed", () => {
    const history = (finalRead: number) => `
      {:process 0, :type :invoke, :f :cas, :value [1 2]}
      {:process 0, :type :info, :f :cas, :value [1 2]}
      {:process 1, :type :invoke, :f :write, :value 1}
      {:process 1, :type :ok, :f :write, :value 1}
      {:process 1, :type :invoke, :f :read, :value nil}
      {:process 1, :type :ok, :f :read, :value ${finalRead}}`;
    assert.equal(checkEdn(history(2)).valid, true);
    assert.equal(checkEdn(history(3)).valid, false);
  });

  test("each key is checked on its own, and the report names the bad one", () => {
    const lines = [
      { process: 0, type: "invoke", f: "write", key: "x", value: 1 },
      { process: 0, type: "ok", f: "write", key: "x", value: 1 },
      { process: 1, type: "invoke", f: "read", key: "y", value: null },
      { process: 1, type: "ok", f: "read", key: "y", value: 1 },
      { process: 2, type: "invoke", f: "read", key: "x", value: null },
      { process: 2, type: "ok", f: "read", key: "x", value: 1 },
    ];
    const result = checkHistory(parseJsonl(lines.map((line) => JSON.stringify(line)).join("\n")), registerModel);
    assert.equal(result.valid, false);
    assert.deepEqual(
      result.partitions.map(({ key, valid }) => [key, valid]),
      [
        ["x", true],
        ["y", false],
      ],
    );
    const text = formatReport(result);
    assert.match(text, /^NOT linearizable: 3 operations on 2 keys/);
    assert.match(text, /Key "y": process 1 read 1 \(ok, lines 3-4\) cannot be linearized/);
    assert.match(text, /could only be: null/);
    const json = JSON.parse(reportJson(result)) as { valid: unknown; partitions: { key: string; failure?: { operation: { line: number } } }[] };
    assert.equal(json.valid, false);
    assert.equal(json.partitions[1]?.failure?.operation.line, 3);
  });

  test("a search that runs out of time answers unknown, while other keys are still decided", () => {
    // Many crashed writes of few values, then a read of a value never
    // written: proving it impossible means trying the crashed writes in
    // every place before it, which takes far longer than the time given.
    const generated = generateRegisterHistory({ seed: 11, operations: 10_000, processes: 10, crashRate: 0.05, values: 5 });
    const hard = injectAnomaly(generated, "phantom-read", 3)!.events;
    const easy = parseJsonl('{"process": 0, "type": "invoke", "f": "write", "key": "easy", "value": 1}');
    const result = checkHistory([...hard, ...easy], registerModel, { timeoutMs: 200 });
    assert.equal(result.valid, "unknown");
    assert.deepEqual(
      result.partitions.map(({ key, valid }) => [key, valid]),
      [
        [undefined, "unknown"],
        ["easy", true],
      ],
    );
    assert.match(formatReport(result), /The history: unknown, the search timed out/);
  });
});

describe("set", () => {
  test("reads see every add that completed before them, in any order", () => {
    const history = (read: string) => `
      {:process 0, :type :invoke, :f :add, :value 1}
      {:process 0, :type :ok, :f :add, :value 1}
      {:process 0, :type :invoke, :f :add, :value 2}
      {:process 1, :type :invoke, :f :read, :value nil}
      {:process 1, :type :ok, :f :read, :value ${read}}
      {:process 0, :type :ok, :f :add, :value 2}
      {:process 1, :type :invoke, :f :read, :value nil}
      {:process 1, :type :ok, :f :read, :value #{2 1}}`;
    assert.equal(checkEdn(history("#{1}"), setModel).valid, true);
    assert.equal(checkEdn(history("[2 1]"), setModel).valid, true);
    assert.equal(checkEdn(history("#{}"), setModel).valid, false);
    assert.equal(checkEdn(history("#{1 3}"), setModel).valid, false);
  });
});
