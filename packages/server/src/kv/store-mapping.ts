/**
 * Between the API's shapes and the store's: txns in and out, and the store's
 * rejections as etcd's errors.
 */
import { MvccError, type TxnOp, type TxnOpResponse } from "@raftkv/mvcc";
import { RaftkvError } from "../errors.js";
import type * as api from "./api.js";

export function toStoreTxn(request: api.TxnRequest) {
  return {
    compare: request.compare.map(({ operand, ...compare }) => ({ ...compare, ...compareOperand(compare.target, operand) })),
    success: request.success.map(toStoreOp),
    failure: request.failure.map(toStoreOp),
  };
}

function compareOperand(target: api.CompareTarget, operand: number | Uint8Array) {
  switch (target) {
    case "VALUE":
      return { value: operand as Uint8Array };
    case "VERSION":
      return { version: operand as number };
    case "CREATE":
      return { createRevision: operand as number };
    case "MOD":
      return { modRevision: operand as number };
    case "LEASE":
      return { lease: operand as number };
  }
}

function toStoreOp(op: api.RequestOp): TxnOp {
  if ("range" in op) return { op: "range", ...op.range };
  if ("put" in op) return { op: "put", ...op.put };
  if ("deleteRange" in op) return { op: "deleteRange", ...op.deleteRange };
  return { op: "txn", ...toStoreTxn(op.txn) };
}

export function fromStoreTxn(response: Extract<TxnOpResponse, { op: "txn" }>, header: api.ResponseHeader): api.TxnResponse {
  return { header, succeeded: response.succeeded, responses: response.responses.map((each) => fromStoreOp(each, header)) };
}

function fromStoreOp(response: TxnOpResponse, header: api.ResponseHeader): api.ResponseOp {
  switch (response.op) {
    case "range":
      return { range: { header, kvs: response.kvs, more: response.more, count: response.count } };
    case "put":
      return { put: { header, ...(response.prevKv ? { prevKv: response.prevKv } : {}) } };
    case "deleteRange":
      return { deleteRange: { header, deleted: response.deleted, prevKvs: response.prevKvs } };
    case "txn":
      return { txn: fromStoreTxn(response, header) };
  }
}

/** Runs a store read, turning its rejections into etcd's errors. */
export function storeCall<T>(read: () => T): T {
  try {
    return read();
  } catch (error) {
    throw asRaftkvError(error);
  }
}

export async function storeCallAsync<T>(read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (error) {
    throw asRaftkvError(error);
  }
}

function asRaftkvError(error: unknown): unknown {
  return error instanceof MvccError ? new RaftkvError(error.grpcCode, error.message) : error;
}
