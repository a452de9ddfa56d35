/** The real `raftkv-check` command, run as a child process on real files. */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { formatEdnHistory, formatJsonl, generateRegisterHistory, injectAnomaly } from "../src/index.js";

const COMMAND = fileURLToPath(new URL("../../bin/raftkv-check.js", import.meta.url));
const folder = mkdtempSync(join(tmpdir(), "raftkv-check-"));
after(() => rmSync(folder, { recursive: true, force: true }));

function historyFile(name: string, contents: string): string {
  const path = join(folder, name);
  writeFileSync(path, contents);
  return path;
}

function run(...args: string[]) {
  const result = spawnSync(process.execPath, [COMMAND, ...args], { encoding: "utf8" });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

const valid = generateRegisterHistory({ seed: 1, operations: 400, processes: 5, keys: 3, crashRate: 0.05 });
const invalid = injectAnomaly(valid, "stale-read", 1)!;

describe("raftkv-check", () => {
  test("exit 0 for a linearizable history in either format", () => {
    for (const path of [historyFile("valid.edn", formatEdnHistory(valid)), historyFile("valid.jsonl", formatJsonl(valid))]) {
      const { status, stdout } = run(path);
      assert.equal(status, 0, stdout);
      assert.match(stdout, /^Linearizable: \d+ operations on 3 keys, register model/);
    }
  });

  test("exit 1 and a report naming the line for a history that is not", () => {
    const { status, stdout } = run(historyFile("invalid.edn", formatEdnHistory(invalid.events)));
    assert.equal(status, 1, stdout);
    assert.match(stdout, /^NOT linearizable/);
    assert.match(stdout, new RegExp(`-${invalid.completionLine}\\) cannot be linearized`));
  });

  test("--json prints the result as JSON", () => {
    const { status, stdout } = run(historyFile("invalid.jsonl", formatJsonl(invalid.events)), "--json");
    assert.equal(status, 1);
    const report = JSON.parse(stdout) as { valid: unknown; partitions: { failure?: { operation: { completionLine: number } } }[] };
    assert.equal(report.valid, false);
    const failing = report.partitions.filter((partition) => partition.failure);
    assert.deepEqual(
      failing.map((partition) => partition.failure?.operation.completionLine),
      [invalid.completionLine],
    );
  });

  test("the format is told by content when the extension does not say, or forced", () => {
    assert.equal(run(historyFile("history.log", formatJsonl(valid))).status, 0);
    assert.equal(run(historyFile("edn.log", formatEdnHistory(valid))).status, 0);
    assert.equal(run(historyFile("forced.txt", formatEdnHistory(valid)), "--format", "jsonl").status, 2);
  });

  test("--model set checks a set", () => {
    const path = historyFile(
      "set.edn",
      "{:process 0, :type :invoke, :f :add, :value 1}\n{:process 0, :type :ok, :f :add, :value 1}\n" +
        "{:process 1, :type :invoke, :f :read, :value nil}\n{:process 1, :type :ok, :f :read, :value #{}}\n",
    );
    assert.equal(run(path, "--model", "set").status, 1);
    assert.equal(run(path).status, 2, "a register has no add");
  });

  test("exit 2 when the search times out", () => {
    const hard = injectAnomaly(generateRegisterHistory({ seed: 11, operations: 10_000, processes: 10, crashRate: 0.05, values: 5 }), "phantom-read", 3)!;
    const { status, stdout } = run(historyFile("hard.jsonl", formatJsonl(hard.events)), "--timeout", "0.2");
    assert.equal(status, 2);
    assert.match(stdout, /^Unknown/);
  });

  test("exit 2 with a message naming the line for malformed input", () => {
    const cases: [string, string, RegExp][] = [
      ["broken.edn", "{:process 0, :type :invoke, :f :read}\n{:process 0 :type", /broken\.edn: line 2: malformed EDN/],
      ["broken.jsonl", '{"process": 0, "type": "invoke", "f": "read"}\n{"process"', /broken\.jsonl: line 2: not JSON/],
      ["orphan.edn", "{:process 0, :type :ok, :f :read, :value 1}", /orphan\.edn: line 1: process 0 completes read it never invoked/],
    ];
    for (const [name, contents, message] of cases) {
      const { status, stderr } = run(historyFile(name, contents));
      assert.equal(status, 2, name);
      assert.match(stderr, message);
    }
  });

  test("exit 2 for bad usage; --help exits 0", () => {
    assert.equal(run().status, 2);
    assert.equal(run(join(folder, "missing.edn")).status, 2);
    assert.equal(run(historyFile("x.edn", ""), "--model", "queue").status, 2);
    assert.equal(run(historyFile("y.edn", ""), "--timeout", "soon").status, 2);
    const help = run("--help");
    assert.equal(help.status, 0);
    assert.match(help.stdout, /^Usage: raftkv-check <history>/);
  });
});
