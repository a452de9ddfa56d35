/**
 * Our own history format: one JSON object per line,
 * `{"process": 0, "type": "invoke", "f": "write", "key": "k", "value": 3, "time": 1200}`.
 * Blank lines are skipped.
 */
import { EVENT_TYPES, HistoryError, type EventType, type HistoryEvent } from "./history.js";
import { jsonReplacer, type Value } from "./value.js";

export function parseJsonl(text: string): HistoryEvent[] {
  const events: HistoryEvent[] = [];
  text.split("\n").forEach((source, index) => {
    if (source.trim() !== "") events.push(parseLine(source, index + 1));
  });
  return events;
}

export function formatJsonl(events: readonly HistoryEvent[]): string {
  return events.map((event) => `${JSON.stringify(withoutLine(event), jsonReplacer)}\n`).join("");
}

function withoutLine({ line: _line, ...event }: HistoryEvent): Omit<HistoryEvent, "line"> {
  return event;
}

function parseLine(source: string, line: number): HistoryEvent {
  const fields = parseObject(source, line);
  const { process, type, f, key, value, time } = fields;
  if (!(typeof process === "string" || Number.isInteger(process))) {
    throw new HistoryError(`"process" must be an integer or a string, not ${JSON.stringify(process)}`, line);
  }
  if (!EVENT_TYPES.includes(type as EventType)) {
    throw new HistoryError(`"type" must be one of ${EVENT_TYPES.join(", ")}, not ${JSON.stringify(type)}`, line);
  }
  if (typeof f !== "string") throw new HistoryError(`"f" must be a string, not ${JSON.stringify(f)}`, line);
  if (time !== undefined && !Number.isFinite(time)) {
    throw new HistoryError(`"time" must be a number, not ${JSON.stringify(time)}`, line);
  }
  return {
    process: process as number | string,
    type: type as EventType,
    f,
    ...("key" in fields && { key: key as Value }),
    ...("value" in fields && { value: value as Value }),
    ...(time !== undefined && { time: time as number }),
    line,
  };
}

/** JSON.parse yields only JSON values, all of which are `Value`s. */
function parseObject(source: string, line: number): Readonly<Record<string, unknown>> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(source);
  } catch (error) {
    throw new HistoryError(`not JSON: ${(error as Error).message}`, line);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new HistoryError("each line must be a JSON object", line);
  }
  return parsed as Record<string, unknown>;
}
