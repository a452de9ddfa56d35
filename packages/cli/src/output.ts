/**
 * How client commands print, in the three formats of etcdctl's --write-out:
 * `table` (the default) for people, `simple` lines for shell scripts, `json`
 * for programs. A command describes its result once, as a Rendering, and
 * show() picks the form.
 *
 * Tables are drawn with cli-table3 in etcdctl's plain ASCII style; results
 * that are not tabular (a put's "OK") print their simple lines under `table`
 * too, as etcdctl does.
 */
import CliTable from "cli-table3";
import type { OutputFormat } from "./global-options.js";

export interface Table {
  readonly header: readonly string[];
  readonly rows: readonly (readonly string[])[];
}

/** A column of a table: its title, and what it shows of each item. */
export type Column<T> = readonly [title: string, cell: (item: T) => string];

export function tableOf<T>(items: readonly T[], columns: readonly Column<T>[]): Table {
  return { header: columns.map(([title]) => title), rows: items.map((item) => columns.map(([, cell]) => cell(item))) };
}

export interface Rendering {
  /** Field names as etcdctl's json output, keys and values in base64 (see json-shapes.ts). */
  readonly json: () => unknown;
  readonly simple: () => readonly string[];
  /** Absent where the result is not a table: the table format prints the simple lines. */
  readonly table?: () => Table;
}

export function show(format: OutputFormat, rendering: Rendering): void {
  if (format === "json") printJson(rendering.json());
  else if (format === "table" && rendering.table) process.stdout.write(`${renderTable(rendering.table())}\n`);
  else printLines(rendering.simple());
}

export function printLines(lines: readonly string[]): void {
  if (lines.length > 0) process.stdout.write(`${lines.join("\n")}\n`);
}

/** One JSON document on one line, so that a stream of them (watch) is newline-delimited JSON. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

/** etcdctl's table look: +---+ borders and a rule under the header. */
const ASCII_BORDERS = {
  top: "-",
  "top-mid": "+",
  "top-left": "+",
  "top-right": "+",
  bottom: "-",
  "bottom-mid": "+",
  "bottom-left": "+",
  "bottom-right": "+",
  left: "|",
  "left-mid": "+",
  mid: "-",
  "mid-mid": "+",
  right: "|",
  "right-mid": "+",
  middle: "|",
};

/** A cell draws the rule above itself; these draw none, so only the header has one beneath it. */
const NO_RULE_ABOVE = { "left-mid": "", mid: "", "mid-mid": "", "right-mid": "" };

export function renderTable(table: Table): string {
  // No colours: the output is often piped, and etcdctl's tables have none.
  const rendered = new CliTable({ chars: ASCII_BORDERS, style: { head: [], border: [] } });
  // The header is a row of its own (cli-table3's `head` takes no alignment); the first body row draws the rule under it.
  rendered.push(table.header.map((title) => ({ content: title, hAlign: "center" as const })));
  table.rows.forEach((row, index) => {
    rendered.push(index === 0 ? [...row] : row.map((content) => ({ content, chars: NO_RULE_ABOVE })));
  });
  return rendered.toString();
}
