/**
 * The values operations carry: what a JSON line or an EDN form can hold once
 * keywords and symbols are read as their names. Integers too large for a
 * double stay exact as bigints, so two different huge values never compare
 * equal by rounding.
 */
export type Value = null | boolean | number | bigint | string | readonly Value[] | ValueRecord;

export interface ValueRecord {
  readonly [field: string]: Value;
}

/**
 * A canonical, readable text for a value: equal values, equal text, and
 * different values, different text. Records list their fields sorted, so the
 * order they were written in does not matter. The checker uses it both to
 * compare values and to show them.
 */
export function encodeValue(value: Value): string {
  if (value === null) return "null";
  switch (typeof value) {
    case "boolean":
    case "number":
      return String(value);
    case "bigint":
      return `${value}n`;
    case "string":
      return JSON.stringify(value);
  }
  if (isValueList(value)) return `[${value.map(encodeValue).join(", ")}]`;
  const fields = Object.keys(value).sort();
  return `{${fields.map((field) => `${JSON.stringify(field)}: ${encodeValue(value[field] ?? null)}`).join(", ")}}`;
}

export function isValueList(value: Value): value is readonly Value[] {
  return Array.isArray(value);
}

export function valuesEqual(a: Value, b: Value): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  return encodeValue(a) === encodeValue(b);
}

/** JSON for values that may hold bigints, which `JSON.stringify` refuses. */
export function jsonReplacer(_field: string, value: unknown): unknown {
  return typeof value === "bigint" ? value.toString() : value;
}
