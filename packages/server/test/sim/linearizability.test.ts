/** The register checker the whole-member simulation judges its histories with. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { checkRegister, type RegisterOp, type TimedOp } from "./support/linearizability.js";

const op = (invoked: number, completed: number | undefined, each: RegisterOp): TimedOp => ({ op: each, invoked, completed });
const put = (value: string): RegisterOp => ({ kind: "put", value });
const read = (value?: string): RegisterOp => ({ kind: "read", value });
const cas = (expected: string, value: string, succeeded?: boolean): RegisterOp => ({ kind: "cas", expected, value, succeeded });

describe("register linearizability", () => {
  test("sequential puts, reads and compare-and-sets that agree are linearizable", () => {
    assert.equal(
      checkRegister([op(0, 1, read()), op(2, 3, put("a")), op(4, 5, cas("a", "b", true)), op(6, 7, cas("a", "c", false)), op(8, 9, read("b"))]),
      undefined,
    );
  });

  test("a read after a completed put that returns the older value is not", () => {
    assert.match(checkRegister([op(0, 1, put("a")), op(2, 3, put("b")), op(4, 5, read("a"))]) ?? "", /no order/);
  });

  test("overlapping operations may take effect in either order", () => {
    assert.equal(checkRegister([op(0, 5, put("a")), op(1, 6, put("b")), op(7, 8, read("a"))]), undefined);
    assert.equal(checkRegister([op(0, 5, put("a")), op(1, 6, put("b")), op(7, 8, read("b"))]), undefined);
  });

  test("a write whose outcome is unknown may take effect later, or never", () => {
    assert.equal(checkRegister([op(0, undefined, put("a")), op(1, 2, read()), op(3, 4, read("a"))]), undefined);
    assert.equal(checkRegister([op(0, undefined, put("a")), op(1, 2, read())]), undefined);
    // But once seen, it cannot be undone.
    assert.match(checkRegister([op(0, 1, put("x")), op(2, undefined, put("a")), op(3, 4, read("a")), op(5, 6, read("x"))]) ?? "", /no order/);
  });

  test("a compare-and-set whose outcome is unknown takes effect only where its comparison holds", () => {
    assert.equal(checkRegister([op(0, 1, put("a")), op(2, undefined, cas("a", "b")), op(3, 4, read("b"))]), undefined);
    assert.match(checkRegister([op(0, 1, put("z")), op(2, undefined, cas("a", "b")), op(3, 4, read("b"))]) ?? "", /no order/);
  });

  test("a compare-and-set that failed saw a different value; one that succeeded saw its expected one", () => {
    assert.match(checkRegister([op(0, 1, put("a")), op(2, 3, cas("a", "b", false))]) ?? "", /no order/);
    assert.match(checkRegister([op(0, 1, put("z")), op(2, 3, cas("a", "b", true))]) ?? "", /no order/);
  });

  test("unknown writes nobody saw may make a later compare fail, and dozens of them cost no search", () => {
    assert.equal(checkRegister([op(0, 1, put("a")), op(2, undefined, put("b")), op(3, 4, cas("a", "c", false))]), undefined);
    assert.match(checkRegister([op(0, 1, put("a")), op(2, 3, cas("a", "c", false))]) ?? "", /no order/);
    const unseen = Array.from({ length: 60 }, (_, i) => op(10 + i, undefined, put(`u${i}`)));
    assert.match(checkRegister([op(0, 1, put("a")), ...unseen, op(100, 101, read("b"))]) ?? "", /no order/);
    assert.equal(checkRegister([op(0, 1, put("a")), ...unseen, op(100, 101, read("a"))]), undefined);
  });
});
