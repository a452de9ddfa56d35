/**
 * The JSON that `raftkv txn` reads: etcd's transaction (compares, then the
 * operations for success or failure) with keys and values as UTF-8 text,
 * checked with zod so a mistake is named by its place ("success[1].put.key:
 * …") rather than sent to the cluster. Unknown fields are refused: a
 * misspelt "prev_kv" must not be silently ignored. See the README for the
 * format, with an example.
 */
import type { Compare, CompareResult, Txn, TxnOp } from "@raftkv/client";
import { z } from "zod";
import { idFromHex } from "./arguments.js";
import { UsageError } from "./errors.js";

/** etcd's result names, and the operators of etcdctl's interactive txn. */
const RESULTS: Record<string, CompareResult> = {
  EQUAL: "EQUAL",
  "=": "EQUAL",
  "==": "EQUAL",
  NOT_EQUAL: "NOT_EQUAL",
  "!=": "NOT_EQUAL",
  GREATER: "GREATER",
  ">": "GREATER",
  LESS: "LESS",
  "<": "LESS",
};

const revision = z.number().int().nonnegative();
/** A lease id: a string of hex digits as the CLI prints leases, or a JSON number. */
const leaseId = z.union([z.string(), z.number()]).transform((given, context) => {
  const id = typeof given === "string" ? idFromHex(given) : Number.isSafeInteger(given) && given > 0 ? given : undefined;
  if (id === undefined) context.addIssue({ code: "custom", message: "expected a lease id: hex digits as lease grant prints them, or a number" });
  return id ?? 0;
});

const range = {
  key: z.string(),
  range_end: z.string().optional(),
  prefix: z.boolean().optional(),
};

const result = z.string().transform((text, context) => {
  const found = RESULTS[text.toUpperCase()];
  if (found === undefined) context.addIssue({ code: "custom", message: `expected one of ${Object.keys(RESULTS).join(" ")}` });
  return found ?? "EQUAL";
});

const compare = z
  .discriminatedUnion("target", [
    z.strictObject({ ...range, result, target: z.literal("VALUE"), value: z.string() }),
    z.strictObject({ ...range, result, target: z.literal("VERSION"), version: revision }),
    z.strictObject({ ...range, result, target: z.literal("CREATE"), create_revision: revision }),
    z.strictObject({ ...range, result, target: z.literal("MOD"), mod_revision: revision }),
    z.strictObject({ ...range, result, target: z.literal("LEASE"), lease: leaseId }),
  ])
  .transform((parsed): Compare => {
    const on = { key: parsed.key, rangeEnd: parsed.range_end, prefix: parsed.prefix, result: parsed.result };
    switch (parsed.target) {
      case "VALUE":
        return { ...on, target: "VALUE", value: parsed.value };
      case "VERSION":
        return { ...on, target: "VERSION", version: parsed.version };
      case "CREATE":
        return { ...on, target: "CREATE", createRevision: parsed.create_revision };
      case "MOD":
        return { ...on, target: "MOD", modRevision: parsed.mod_revision };
      case "LEASE":
        return { ...on, target: "LEASE", lease: parsed.lease };
    }
  });

const put = z.strictObject({ key: z.string(), value: z.string(), lease: leaseId.optional(), prev_kv: z.boolean().optional() });
const get = z.strictObject({
  ...range,
  revision: revision.optional(),
  limit: revision.optional(),
  keys_only: z.boolean().optional(),
  count_only: z.boolean().optional(),
});
const del = z.strictObject({ ...range, prev_kv: z.boolean().optional() });

const operation = z.strictObject({ put: put.optional(), get: get.optional(), delete: del.optional() }).transform((op, context): TxnOp => {
  if (Object.keys(op).length === 1) {
    if (op.put) return { put: { key: op.put.key, value: op.put.value, lease: op.put.lease, prevKv: op.put.prev_kv } };
    if (op.get) {
      const { key, range_end, prefix, revision: at, limit, keys_only, count_only } = op.get;
      return { get: { key, rangeEnd: range_end, prefix, revision: at, limit, keysOnly: keys_only, countOnly: count_only } };
    }
    if (op.delete) return { delete: { key: op.delete.key, rangeEnd: op.delete.range_end, prefix: op.delete.prefix, prevKv: op.delete.prev_kv } };
  }
  context.addIssue({ code: "custom", message: "an operation is exactly one of put, get or delete" });
  return z.NEVER;
});

const transaction = z.strictObject({
  compare: z.array(compare).default([]),
  success: z.array(operation).default([]),
  failure: z.array(operation).default([]),
});

/** The transaction in `text`, or a UsageError naming every mistake and where it is. */
export function parseTxn(text: string, source: string): Txn {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`${source}: not JSON: ${(error as Error).message}`);
  }
  const parsed = transaction.safeParse(json);
  if (parsed.success) return parsed.data;
  const mistakes = parsed.error.issues.map((issue) => `${placeOf(issue.path)}${issue.message}`);
  throw new UsageError(`${source}: ${mistakes.join("; ")}`);
}

/** "success[1].put.key: ", as zod's path says where. */
function placeOf(path: readonly PropertyKey[]): string {
  if (path.length === 0) return "";
  const place = path.map((part, index) => (typeof part === "number" ? `[${part}]` : `${index === 0 ? "" : "."}${String(part)}`)).join("");
  return `${place}: `;
}
