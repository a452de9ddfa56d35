import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { EdnSet, EdnSymbol, EdnSyntaxError, Keyword, readEdnForms, type EdnValue } from "../src/index.js";

const readOne = (text: string): EdnValue => {
  const forms = readEdnForms(text);
  assert.equal(forms.length, 1, `one form in ${text}`);
  return forms[0]!.value;
};

describe("EDN reader", () => {
  test("scalars", () => {
    const cases: [string, EdnValue][] = [
      ["nil", null],
      ["true", true],
      ["false", false],
      ["42", 42],
      ["-7", -7],
      ["+3", 3],
      ["12N", 12],
      ["1.5", 1.5],
      ["-2.5e3", -2500],
      ["3M", 3],
      ["9007199254740993", 9007199254740993n],
      ['"a\\"b\\\\c\\nd\\u0041"', 'a"b\\c\nd' + "A"],
      ["\\a", "a"],
      ["\\newline", "\n"],
      ["\\u0042", "B"],
    ];
    for (const [text, expected] of cases) assert.deepEqual(readOne(text), expected, text);
  });

  test("keywords are interned and symbols keep their names", () => {
    assert.equal(readOne(":cas"), Keyword.of("cas"));
    assert.equal(readOne(":jepsen.history/op"), Keyword.of("jepsen.history/op"));
    const symbol = readOne("foo-bar?");
    assert.ok(symbol instanceof EdnSymbol && symbol.name === "foo-bar?");
  });

  test("collections, comments, commas, discards and tags", () => {
    const value = readOne(`{:a [1 2 (3)], ; a comment
      :b #{:x}, #_ :ignored :c #inst "2024-01-01"}`);
    assert.ok(value instanceof Map);
    assert.deepEqual(value.get(Keyword.of("a")), [1, 2, [3]]);
    const set = value.get(Keyword.of("b"));
    assert.ok(set instanceof EdnSet);
    assert.deepEqual(set.items, [Keyword.of("x")]);
    assert.equal(value.get(Keyword.of("c")), "2024-01-01");
    assert.equal(value.size, 3);
  });

  test("several forms, one per line", () => {
    assert.deepEqual(readEdnForms("1\n[2]\n;done\n"), [
      { value: 1, line: 1 },
      { value: [2], line: 2 },
    ]);
  });

  test("malformed input names the line", () => {
    const cases: [string, number, RegExp][] = [
      ["{:a 1}\n{:a", 2, /'}' missing for the collection opened on line 2/],
      ["[1 2)", 1, /unexpected '\)'/],
      ['"open', 1, /unterminated string/],
      ["{:a}", 1, /key without a value/],
      ["1\n2\n3x4", 3, /malformed number/],
      ['"\\q"', 1, /unknown escape/],
      ["#", 1, /'#' must start/],
    ];
    for (const [text, line, message] of cases) {
      assert.throws(
        () => readEdnForms(text),
        (error: unknown) => error instanceof EdnSyntaxError && error.line === line && message.test(error.reason),
        text,
      );
    }
  });
});
