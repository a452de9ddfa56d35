/** Small pieces of view shared by the pages. */
import { asHex, asText } from "./bytes.js";

export function ErrorLine({ error }: { error: string | undefined }) {
  return error ? (
    <p class="error" role="alert">
      {error}
    </p>
  ) : null;
}

/** A column heading, with the hint a hover shows where the heading alone is not enough. */
export type Column = string | { readonly label: string; readonly hint: string };

export function TableHead({ columns }: { columns: readonly Column[] }) {
  return (
    <thead>
      <tr>{columns.map((column) => (typeof column === "string" ? <th>{column}</th> : <th title={column.hint}>{column.label}</th>))}</tr>
    </thead>
  );
}

export function formatBytes(size: number): string {
  if (size < 1024) return `${size} B`;
  if (size < 1024 * 1024) return `${(size / 1024).toFixed(1)} KiB`;
  return `${(size / 1024 / 1024).toFixed(1)} MiB`;
}

export type ValueView = "text" | "json" | "hex";

/** The view a value opens in: JSON when it parses, text when it is UTF-8, hex otherwise. */
export function naturalView(value: Uint8Array): ValueView {
  const text = asText(value);
  if (text === undefined) return "hex";
  return parsesAsJson(text) ? "json" : "text";
}

function parsesAsJson(text: string): boolean {
  if (!/^\s*[[{"]/.test(text)) return false;
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

export function renderValue(value: Uint8Array, view: ValueView): string {
  const text = asText(value);
  if (view === "hex" || text === undefined) return asHex(value);
  if (view === "json" && parsesAsJson(text)) return JSON.stringify(JSON.parse(text), null, 2);
  return text;
}
