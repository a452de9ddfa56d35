/** The two history formats, told apart by file extension or, failing that, by content. */
import { parseEdnHistory } from "./edn-history.js";
import type { HistoryEvent } from "./history.js";
import { parseJsonl } from "./jsonl.js";

export type HistoryFormat = "edn" | "jsonl";
export const HISTORY_FORMATS: readonly HistoryFormat[] = ["edn", "jsonl"];

const EXTENSIONS = new Map<string, HistoryFormat>([
  [".edn", "edn"],
  [".jsonl", "jsonl"],
  [".ndjson", "jsonl"],
  [".json", "jsonl"],
]);

/**
 * By extension; otherwise JSON lines start with `{"` where an EDN op map
 * starts with `{:`, and anything else (a vector, a comment) is EDN.
 */
export function detectFormat(fileName: string, text: string): HistoryFormat {
  const extension = /\.[^./\\]+$/.exec(fileName)?.[0].toLowerCase();
  const byExtension = extension === undefined ? undefined : EXTENSIONS.get(extension);
  if (byExtension !== undefined) return byExtension;
  return /^\s*\{\s*"/.test(text) ? "jsonl" : "edn";
}

export function parseHistory(text: string, format: HistoryFormat): HistoryEvent[] {
  return format === "edn" ? parseEdnHistory(text) : parseJsonl(text);
}
