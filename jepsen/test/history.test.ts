/** Reading histories in both formats and turning them into operations, Knossos's way. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  detectFormat,
  formatEdnHistory,
  formatJsonl,
  HistoryError,
  parseEdnHistory,
  parseJsonl,
  partitionHistory,
  registerModel,
  setModel,
} from "../src/index.js";

const throwsAtLine = (action: () => unknown, line: number, message: RegExp) =>
  assert.throws(action, (error: unknown) => error instanceof HistoryError && error.line === line && message.test(error.reason));

describe("JSON lines", () => {
  test("events with and without keys, times and values", () => {
    const events = parseJsonl(
      '{"process": 0, "type": "invoke", "f": "write", "key": "a", "value": 3, "time": 5}\n\n' + '{"process": "c1", "type": "ok", "f": "read", "value": null}\n',
    );
    assert.deepEqual(events, [
      { process: 0, type: "invoke", f: "write", key: "a", value: 3, time: 5, line: 1 },
      { process: "c1", type: "ok", f: "read", value: null, line: 3 },
    ]);
  });

  test("malformed lines are named", () => {
    throwsAtLine(() => parseJsonl('{"process": 0, "type": "invoke", "f": "read"}\n{"process": 0,'), 2, /not JSON/);
    throwsAtLine(() => parseJsonl("[1]"), 1, /JSON object/);
    throwsAtLine(() => parseJsonl('{"process": 1.5, "type": "ok", "f": "read"}'), 1, /"process"/);
    throwsAtLine(() => parseJsonl('{"process": 1, "type": "done", "f": "read"}'), 1, /"type"/);
    throwsAtLine(() => parseJsonl('{"process": 1, "type": "ok", "f": 3}'), 1, /"f"/);
  });
});

describe("EDN histories", () => {
  test("op maps one per line, keywords read as names", () => {
    const events = parseEdnHistory(
      "{:process 0, :type :invoke, :f :cas, :value [1 2], :time 10, :index 0}\n" + "{:process :nemesis, :type :info, :f :start, :value nil}\n",
    );
    assert.deepEqual(events, [
      { process: 0, type: "invoke", f: "cas", value: [1, 2], time: 10, line: 1 },
      { process: "nemesis", type: "info", f: "start", value: null, line: 2 },
    ]);
  });

  test("a history written as one vector keeps each op's line", () => {
    const events = parseEdnHistory("[{:process 0, :type :invoke, :f :read}\n {:process 0, :type :ok, :f :read, :value 1}]");
    assert.deepEqual(
      events.map((event) => event.line),
      [1, 2],
    );
  });

  test("Jepsen's independent [key value] tuples become keys", () => {
    const events = parseEdnHistory(
      "{:process 0, :type :invoke, :f :cas, :value [7 [1 2]]}\n" +
        "{:process 1, :type :invoke, :f :read, :value [8 nil]}\n" +
        "{:process :nemesis, :type :info, :f :start, :value nil}\n",
    );
    assert.deepEqual(
      events.map(({ key, value }) => [key, value]),
      [
        [7, [1, 2]],
        [8, null],
        [undefined, null],
      ],
    );
  });

  test("a plain compare-and-set history is not mistaken for tuples", () => {
    const [event] = parseEdnHistory("{:process 0, :type :invoke, :f :cas, :value [1 2]}");
    assert.equal(event?.key, undefined);
    assert.deepEqual(event?.value, [1, 2]);
  });

  test("malformed histories name the line", () => {
    throwsAtLine(() => parseEdnHistory("{:process 0, :type :invoke, :f :read}\n{:process 0"), 2, /malformed EDN/);
    throwsAtLine(() => parseEdnHistory("{:process 0, :type :invoke, :f :read}\n42"), 2, /expected an op map/);
    throwsAtLine(() => parseEdnHistory("\n{:process 0, :type :begin, :f :read}"), 2, /:type/);
    throwsAtLine(() => parseEdnHistory("{:process 0.5, :type :ok, :f :read}"), 1, /:process/);
  });

  test("both writers read back to the same events", () => {
    const events = parseEdnHistory(
      '{:process 0, :type :invoke, :f :write, :key "k", :value [1 "two" nil true], :time 3}\n' +
        '{:process 0, :type :ok, :f :write, :key "k", :value [1 "two" nil true], :time 4}\n',
    );
    assert.deepEqual(parseEdnHistory(formatEdnHistory(events)), events);
    assert.deepEqual(parseJsonl(formatJsonl(events)), events);
  });
});

describe("format detection", () => {
  test("by extension, then by the first character", () => {
    assert.equal(detectFormat("h.edn", '{"a": 1}'), "edn");
    assert.equal(detectFormat("h.jsonl", "{:a 1}"), "jsonl");
    assert.equal(detectFormat("history", '  {"process": 0}'), "jsonl");
    assert.equal(detectFormat("history", "{:process 0}"), "edn");
    assert.equal(detectFormat("history.txt", "[{:process 0}]"), "edn");
  });
});

describe("operations", () => {
  const operationsOf = (edn: string) => partitionHistory(parseEdnHistory(edn), registerModel).flatMap((p) => p.operations);

  test("fail drops the operation, info leaves it open-ended, a missing completion is info", () => {
    const ops = operationsOf(`
      {:process 0, :type :invoke, :f :write, :value 1}
      {:process 1, :type :invoke, :f :cas, :value [1 2]}
      {:process 0, :type :ok, :f :write, :value 1}
      {:process 1, :type :fail, :f :cas, :value [1 2]}
      {:process 2, :type :invoke, :f :write, :value 3}
      {:process 2, :type :info, :f :write, :value 3}
      {:process 3, :type :invoke, :f :write, :value 4}
    `);
    assert.deepEqual(
      ops.map(({ f, value, outcome, returnAt }) => [f, value, outcome, returnAt]),
      [
        ["write", 1, "ok", 2],
        ["write", 3, "info", Infinity],
        ["write", 4, "info", Infinity],
      ],
    );
  });

  test("a read's value is what it returned; a crashed read is dropped", () => {
    const ops = operationsOf(`
      {:process 0, :type :invoke, :f :read, :value nil}
      {:process 1, :type :invoke, :f :read, :value nil}
      {:process 0, :type :ok, :f :read, :value 5}
      {:process 1, :type :info, :f :read, :value nil}
    `);
    assert.deepEqual(
      ops.map(({ f, value }) => [f, value]),
      [["read", 5]],
    );
  });

  test("a process reused after a crash is a new logical process", () => {
    const ops = operationsOf(`
      {:process 0, :type :invoke, :f :write, :value 1}
      {:process 0, :type :info, :f :write, :value 1}
      {:process 0, :type :invoke, :f :write, :value 2}
      {:process 0, :type :ok, :f :write, :value 2}
    `);
    assert.deepEqual(
      ops.map(({ value, outcome }) => [value, outcome]),
      [
        [1, "info"],
        [2, "ok"],
      ],
    );
  });

  test("events are ordered by time when every event has one, nemesis events aside", () => {
    const ops = operationsOf(`
      {:process 1, :type :ok, :f :write, :value 2, :time 40}
      {:process 0, :type :invoke, :f :write, :value 1, :time 10}
      {:process :nemesis, :type :info, :f :start}
      {:process 1, :type :invoke, :f :write, :value 2, :time 20}
      {:process 0, :type :ok, :f :write, :value 1, :time 30}
    `);
    assert.deepEqual(
      ops.map(({ value, callAt, returnAt }) => [value, callAt, returnAt]),
      [
        [1, 0, 2],
        [2, 1, 3],
      ],
    );
  });

  test("keys partition the history", () => {
    const partitions = partitionHistory(
      parseJsonl(['{"process":0,"type":"invoke","f":"write","key":"a","value":1}', '{"process":1,"type":"invoke","f":"write","key":"b","value":1}'].join("\n")),
      registerModel,
    );
    assert.deepEqual(
      partitions.map((partition) => [partition.key, partition.operations.length]),
      [
        ["a", 1],
        ["b", 1],
      ],
    );
  });

  test("histories that make no sense name the line", () => {
    const cases: [string, number, RegExp][] = [
      ["{:process 0, :type :ok, :f :read, :value 1}", 1, /never invoked/],
      ["{:process 0, :type :invoke, :f :read}\n{:process 0, :type :invoke, :f :read}", 2, /invokes again/],
      ["{:process 0, :type :invoke, :f :read}\n{:process 0, :type :ok, :f :write}", 2, /completes the read/],
      ["{:process 0, :type :invoke, :f :cas, :value 3}\n{:process 0, :type :ok, :f :cas, :value 3}", 1, /cas needs/],
      ["{:process 0, :type :invoke, :f :dequeue}", 1, /not dequeue/],
    ];
    for (const [edn, line, message] of cases) throwsAtLine(() => operationsOf(edn), line, message);
    throwsAtLine(() => partitionHistory(parseEdnHistory("{:process 0, :type :invoke, :f :write, :value 1}"), setModel), 1, /not write/);
  });
});
