/**
 * Reading etcd v3 gateway requests: proto3 JSON bodies (bytes in base64,
 * int64 as numbers or decimal strings, enums by name or number) into the
 * API's types. Errors name a field by its path.
 */
import { invalidArgument, type RaftkvError } from "../../errors.js";
import type {
  AlarmRequest,
  Compare,
  CompareResult,
  CompareTarget,
  DeleteRangeRequest,
  PutRequest,
  RangeRequest,
  RequestOp,
  SortOrder,
  SortTarget,
  TxnRequest,
  WatchRequest,
} from "../../kv/api.js";
import type { LeaderKey } from "../../recipes/election.js";
import { COMPARE_OPERAND_FIELD, assertPutFits } from "../../recipes/kv.js";
import { decodeBool, decodeBytes, decodeEnum, decodeInt } from "./proto3-json.js";

/** A JSON object as the gateway reads and writes it. */
export type JsonObject = Readonly<Record<string, unknown>>;

export const SORT_ORDERS = ["NONE", "ASCEND", "DESCEND"] as const satisfies readonly SortOrder[];
export const SORT_TARGETS = ["KEY", "VERSION", "CREATE", "MOD", "VALUE"] as const satisfies readonly SortTarget[];
export const COMPARE_RESULTS = ["EQUAL", "GREATER", "LESS", "NOT_EQUAL"] as const satisfies readonly CompareResult[];
export const COMPARE_TARGETS = ["VERSION", "CREATE", "MOD", "VALUE", "LEASE"] as const satisfies readonly CompareTarget[];
export const WATCH_FILTERS = ["NOPUT", "NODELETE"] as const;
export const ALARM_ACTIONS = ["GET", "ACTIVATE", "DEACTIVATE"] as const satisfies readonly AlarmRequest["action"][];
export const ALARM_TYPES = ["NONE", "NOSPACE", "CORRUPT"] as const satisfies readonly AlarmRequest["alarm"][];

/** One JSON object of a request body. Errors name a field by its path, e.g. `success[0].request_put.key`. */
export class Fields {
  private constructor(
    private readonly json: JsonObject,
    private readonly path: string,
  ) {}

  static of(value: unknown, path = ""): Fields {
    if (value === undefined || value === null) return new Fields({}, path);
    if (typeof value !== "object" || Array.isArray(value)) throw invalidArgument(`${path || "the body"} must be a JSON object`);
    return new Fields(value as JsonObject, path);
  }

  has(name: string): boolean {
    return this.json[name] !== undefined && this.json[name] !== null;
  }

  bytes(name: string): Uint8Array {
    return decodeBytes(this.json[name], this.pathOf(name));
  }

  int(name: string): number {
    return decodeInt(this.json[name], this.pathOf(name));
  }

  bool(name: string): boolean {
    return decodeBool(this.json[name], this.pathOf(name));
  }

  enum<T extends string>(name: string, names: readonly T[]): T {
    return decodeEnum(this.json[name], names, this.pathOf(name));
  }

  enums<T extends string>(name: string, names: readonly T[]): T[] {
    return this.list(name).map((value, i) => decodeEnum(value, names, `${this.pathOf(name)}[${i}]`));
  }

  /** A string field; "" when absent. */
  string(name: string): string {
    const value = this.json[name];
    if (value === undefined || value === null) return "";
    if (typeof value !== "string") throw invalidArgument(`field "${this.pathOf(name)}" must be a string`);
    return value;
  }

  strings(name: string): string[] {
    return this.list(name).map((value, i) => {
      if (typeof value !== "string") throw invalidArgument(`field "${this.pathOf(name)}[${i}]" must be a string`);
      return value;
    });
  }

  object(name: string): Fields {
    return Fields.of(this.json[name], this.pathOf(name));
  }

  objects(name: string): Fields[] {
    return this.list(name).map((value, i) => Fields.of(value, `${this.pathOf(name)}[${i}]`));
  }

  invalid(message: string): RaftkvError {
    return invalidArgument(this.path ? `${this.path}: ${message}` : message);
  }

  private list(name: string): unknown[] {
    const value = this.json[name];
    if (value === undefined || value === null) return [];
    if (!Array.isArray(value)) throw invalidArgument(`field "${this.pathOf(name)}" must be a list`);
    return value;
  }

  private pathOf(name: string): string {
    return this.path ? `${this.path}.${name}` : name;
  }
}

export function decodeRangeRequest(f: Fields): RangeRequest {
  return {
    key: f.bytes("key"),
    rangeEnd: f.bytes("range_end"),
    limit: f.int("limit"),
    revision: f.int("revision"),
    sortOrder: f.enum("sort_order", SORT_ORDERS),
    sortTarget: f.enum("sort_target", SORT_TARGETS),
    serializable: f.bool("serializable"),
    keysOnly: f.bool("keys_only"),
    countOnly: f.bool("count_only"),
    minModRevision: f.int("min_mod_revision"),
    maxModRevision: f.int("max_mod_revision"),
    minCreateRevision: f.int("min_create_revision"),
    maxCreateRevision: f.int("max_create_revision"),
  };
}

export function decodePutRequest(f: Fields): PutRequest {
  const key = f.bytes("key");
  const value = f.bytes("value");
  assertPutFits(key, value);
  return {
    key,
    value,
    lease: f.int("lease"),
    prevKv: f.bool("prev_kv"),
    ignoreValue: f.bool("ignore_value"),
    ignoreLease: f.bool("ignore_lease"),
  };
}

export function decodeDeleteRangeRequest(f: Fields): DeleteRangeRequest {
  return { key: f.bytes("key"), rangeEnd: f.bytes("range_end"), prevKv: f.bool("prev_kv") };
}

export function decodeTxnRequest(f: Fields): TxnRequest {
  return {
    compare: f.objects("compare").map(decodeCompare),
    success: f.objects("success").map(decodeRequestOp),
    failure: f.objects("failure").map(decodeRequestOp),
  };
}

function decodeCompare(f: Fields): Compare {
  const target = f.enum("target", COMPARE_TARGETS);
  const operandField = COMPARE_OPERAND_FIELD[target];
  return {
    result: f.enum("result", COMPARE_RESULTS),
    target,
    key: f.bytes("key"),
    rangeEnd: f.bytes("range_end"),
    operand: target === "VALUE" ? f.bytes(operandField) : f.int(operandField),
  };
}

function decodeRequestOp(f: Fields): RequestOp {
  if (f.has("request_range")) return { range: decodeRangeRequest(f.object("request_range")) };
  if (f.has("request_put")) return { put: decodePutRequest(f.object("request_put")) };
  if (f.has("request_delete_range")) return { deleteRange: decodeDeleteRangeRequest(f.object("request_delete_range")) };
  if (f.has("request_txn")) return { txn: decodeTxnRequest(f.object("request_txn")) };
  throw f.invalid("a request op needs one of request_range, request_put, request_delete_range, request_txn");
}

/** A watch request and the id its responses carry (the client's `watch_id`, 0 by default). */
export interface WatchCreate {
  readonly request: WatchRequest;
  readonly watchId: number;
}

/** One request of a watch stream; a message with none of the three is ignored, as etcd ignores it. */
export type WatchStreamRequest = { readonly create: WatchCreate } | { readonly cancel: number } | { readonly progress: true } | { readonly none: true };

/** A watch over a plain HTTP request: its body creates one watch. */
export function decodeWatchRequest(body: Fields): WatchCreate {
  if (!body.has("create_request")) throw body.invalid("a watch over HTTP needs a create_request");
  return decodeWatchCreate(body.object("create_request"));
}

/** A message of a watch stream (over a WebSocket), decoded whole before it is acted on. */
export function decodeWatchStreamRequest(body: Fields): WatchStreamRequest {
  if (body.has("create_request")) return { create: decodeWatchCreate(body.object("create_request")) };
  if (body.has("cancel_request")) return { cancel: body.object("cancel_request").int("watch_id") };
  if (body.has("progress_request")) return { progress: true };
  return { none: true };
}

function decodeWatchCreate(f: Fields): WatchCreate {
  const filters = f.enums("filters", WATCH_FILTERS);
  const request: WatchRequest = {
    key: f.bytes("key"),
    rangeEnd: f.bytes("range_end"),
    startRevision: f.int("start_revision"),
    prevKv: f.bool("prev_kv"),
    noPut: filters.includes("NOPUT"),
    noDelete: filters.includes("NODELETE"),
    progressNotify: f.bool("progress_notify"),
  };
  return { request, watchId: f.int("watch_id") };
}

export function decodeAlarmRequest(f: Fields): AlarmRequest {
  return { action: f.enum("action", ALARM_ACTIONS), memberId: f.int("memberID"), alarm: f.enum("alarm", ALARM_TYPES) };
}

export function decodeLeaderKey(f: Fields): LeaderKey {
  return { name: f.bytes("name"), key: f.bytes("key"), rev: f.int("rev"), lease: f.int("lease") };
}
