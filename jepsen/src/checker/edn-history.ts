/**
 * Jepsen's history format: one op map per line (or any EDN layout, including
 * a single vector of maps), e.g.
 * `{:type :invoke, :f :cas, :value [1 2], :process 0, :time 2312, :index 4}`.
 *
 * Histories from Jepsen's `independent` workloads carry `[key value]` tuples
 * as values; they are recognised when every client event's value is such a
 * tuple (see `unwrapIndependentKeys`) and become events with a `key`.
 */
import { EdnSet, EdnSymbol, EdnSyntaxError, Keyword, readEdnForms, startLineOf, type EdnForm, type EdnValue } from "./edn.js";
import { EVENT_TYPES, HistoryError, NEMESIS, type EventType, type HistoryEvent } from "./history.js";
import { encodeValue, isValueList, type Value, type ValueRecord } from "./value.js";

type EdnMap = ReadonlyMap<EdnValue, EdnValue>;

export function parseEdnHistory(text: string): HistoryEvent[] {
  let forms: EdnForm[];
  try {
    forms = readEdnForms(text);
  } catch (error) {
    if (error instanceof EdnSyntaxError) throw new HistoryError(`malformed EDN: ${error.reason}`, error.line);
    throw error;
  }
  const events = forms.flatMap(({ value, line }) => opMaps(value, line)).map(toEvent);
  return unwrapIndependentKeys(events);
}

export function formatEdnHistory(events: readonly HistoryEvent[]): string {
  return events.map((event) => `${formatEvent(event)}\n`).join("");
}

/** A history is a sequence of op maps, written one by one or inside vectors. */
function opMaps(form: EdnValue, enclosingLine: number): EdnMap[] {
  if (form instanceof Map) return [form];
  const line = lineOf(form) ?? enclosingLine;
  if (Array.isArray(form)) return form.flatMap((item: EdnValue) => opMaps(item, line));
  throw new HistoryError(`expected an op map, found ${describeEdn(form)}`, line);
}

function toEvent(map: EdnMap): HistoryEvent {
  const line = lineOf(map) ?? 0;
  const field = (name: string) => map.get(Keyword.of(name));
  const type = nameOf(field("type"));
  if (!EVENT_TYPES.includes(type as EventType)) {
    throw new HistoryError(`:type must be one of :${EVENT_TYPES.join(", :")}`, line);
  }
  const f = nameOf(field("f"));
  if (f === undefined) throw new HistoryError(":f must be a keyword", line);
  const time = field("time");
  if (time !== undefined && typeof time !== "number") throw new HistoryError(":time must be a number", line);
  return {
    process: processOf(field("process"), line),
    type: type as EventType,
    f,
    ...(map.has(Keyword.of("key")) && { key: toValue(field("key") ?? null) }),
    ...(map.has(Keyword.of("value")) && { value: toValue(field("value") ?? null) }),
    ...(time !== undefined && { time }),
    line,
  };
}

function processOf(process: EdnValue | undefined, line: number): number | string {
  if (typeof process === "number" && Number.isInteger(process)) return process;
  const name = nameOf(process);
  if (name === undefined) throw new HistoryError(":process must be an integer or a keyword", line);
  return name;
}

function nameOf(form: EdnValue | undefined): string | undefined {
  if (form instanceof Keyword || form instanceof EdnSymbol) return form.name;
  return typeof form === "string" ? form : undefined;
}

/** Keywords and symbols become their names; sets become sorted lists; maps become records. */
function toValue(form: EdnValue): Value {
  if (form instanceof Keyword || form instanceof EdnSymbol) return form.name;
  if (form instanceof EdnSet) return form.items.map(toValue).sort(byEncoding);
  if (form instanceof Map) return toRecord(form);
  if (Array.isArray(form)) return form.map(toValue);
  return form as null | boolean | number | bigint | string;
}

function toRecord(map: EdnMap): ValueRecord {
  const record: Record<string, Value> = {};
  for (const [key, value] of map) {
    const converted = toValue(key);
    record[typeof converted === "string" ? converted : encodeValue(converted)] = toValue(value);
  }
  return record;
}

function byEncoding(a: Value, b: Value): number {
  const [left, right] = [encodeValue(a), encodeValue(b)];
  return left < right ? -1 : left > right ? 1 : 0;
}

/**
 * Jepsen's `independent` tuples: every client event's value is `[key value]`,
 * and a compare-and-set's value is `[key [expected new]]`. A plain register
 * history never looks like that, because its writes carry bare values.
 */
function unwrapIndependentKeys(events: HistoryEvent[]): HistoryEvent[] {
  const clientEvents = events.filter((event) => event.process !== NEMESIS);
  if (clientEvents.length === 0 || !clientEvents.every(isIndependentTuple)) return events;
  return events.map((event) => {
    if (event.process === NEMESIS) return event;
    const [key, value] = event.value as readonly [Value, Value];
    return { ...event, key, value };
  });
}

function isIndependentTuple(event: HistoryEvent): boolean {
  const tuple = event.value;
  if (event.key !== undefined || tuple === undefined || !isValueList(tuple) || tuple.length !== 2) return false;
  const inner = tuple[1] ?? null;
  return event.f !== "cas" || (isValueList(inner) && inner.length === 2);
}

function lineOf(form: EdnValue): number | undefined {
  return typeof form === "object" && form !== null ? startLineOf(form) : undefined;
}

function describeEdn(form: EdnValue): string {
  if (form === null) return "nil";
  if (form instanceof Keyword) return `the keyword ${form}`;
  if (form instanceof EdnSymbol) return `the symbol ${form.name}`;
  if (form instanceof EdnSet) return "a set";
  return typeof form === "object" ? "a collection" : `the ${typeof form} ${String(form)}`;
}

function formatEvent(event: HistoryEvent): string {
  const fields = [`:process ${typeof event.process === "number" ? event.process : `:${event.process}`}`, `:type :${event.type}`, `:f :${event.f}`];
  if (event.key !== undefined) fields.push(`:key ${formatEdnValue(event.key)}`);
  if (event.value !== undefined) fields.push(`:value ${formatEdnValue(event.value)}`);
  if (event.time !== undefined) fields.push(`:time ${event.time}`);
  return `{${fields.join(", ")}}`;
}

function formatEdnValue(value: Value): string {
  if (value === null) return "nil";
  if (typeof value === "bigint") return `${value}N`;
  if (typeof value !== "object") return typeof value === "string" ? JSON.stringify(value) : String(value);
  if (isValueList(value)) return `[${value.map(formatEdnValue).join(" ")}]`;
  return `{${Object.entries(value)
    .map(([field, inner]) => `${JSON.stringify(field)} ${formatEdnValue(inner)}`)
    .join(", ")}}`;
}
