/**
 * etcd's JSON gateway conventions (proto3 JSON): bytes as base64, 64-bit
 * integers as decimal strings (numbers are accepted on input), enums by name
 * or number, snake_case field names, and fields at their zero value left out.
 */
import { invalidArgument } from "../../errors.js";

const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;

/**
 * Decodes straight into a plain Uint8Array of the decoded size: one pass
 * over the text and no intermediate Buffer (a small one would be a slice of
 * Node's shared pool, which a stored value must not pin). Node's base64
 * decoder takes the URL-safe alphabet as well.
 */
export function decodeBytes(value: unknown, field: string): Uint8Array {
  if (value === undefined || value === null) return new Uint8Array();
  if (typeof value !== "string" || !BASE64.test(value)) throw invalidBase64(field);
  const unpadded = value.length - paddingOf(value);
  if (unpadded % 4 === 1) throw invalidBase64(field);
  const bytes = new Uint8Array(Math.floor((unpadded * 3) / 4));
  Buffer.from(bytes.buffer).write(value, "base64");
  return bytes;
}

/** The `=` at the end of base64 text that BASE64 accepted (at most two). */
function paddingOf(text: string): number {
  if (!text.endsWith("=")) return 0;
  return text.endsWith("==") ? 2 : 1;
}

function invalidBase64(field: string): Error {
  return invalidArgument(`invalid base64 in field "${field}"`);
}

export function encodeBytes(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
}

/** An int64 field: a JSON number or a decimal string; 0 when absent. */
export function decodeInt(value: unknown, field: string): number {
  if (value === undefined || value === null || value === "") return 0;
  const number = typeof value === "string" && /^-?\d+$/.test(value) ? Number(value) : value;
  if (typeof number !== "number" || !Number.isSafeInteger(number)) {
    throw invalidArgument(`field "${field}" must be an integer below 2^53, got ${JSON.stringify(value)}`);
  }
  return number;
}

export function encodeInt(value: number): string {
  return String(value);
}

export function decodeBool(value: unknown, field: string): boolean {
  if (value === undefined || value === null) return false;
  if (typeof value !== "boolean") throw invalidArgument(`field "${field}" must be true or false`);
  return value;
}

/** An enum by its name or its number. */
export function decodeEnum<T extends string>(value: unknown, names: readonly T[], field: string): T {
  if (value === undefined || value === null) return names[0] as T;
  if (typeof value === "number" && names[value] !== undefined) return names[value] as T;
  if (typeof value === "string" && (names as readonly string[]).includes(value)) return value as T;
  throw invalidArgument(`field "${field}" must be one of ${names.join(", ")}`);
}

/** Drops zero values, as etcd's gateway does when it writes JSON. */
export function compact<T extends Record<string, unknown>>(fields: T): Partial<T> {
  const kept: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(fields)) {
    if (value === undefined || value === false || value === "0" || value === "" || value === 0) continue;
    if (Array.isArray(value) && value.length === 0) continue;
    kept[name] = value;
  }
  return kept as Partial<T>;
}
