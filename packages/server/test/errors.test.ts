/** etcd's errors keep the HTTP status etcd 3.4's JSON gateway gives their gRPC code. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { etcdError } from "../src/errors.js";

test("a failed precondition is 412, as etcd's gateway answers a lease grant with an ID in use", () => {
  assert.equal(etcdError("leaseExists").httpStatus, 412);
  assert.equal(etcdError("badLeaderTransferee").httpStatus, 412);
  assert.equal(etcdError("keyNotFound").httpStatus, 400);
  assert.equal(etcdError("memberNotFound").httpStatus, 404);
});
