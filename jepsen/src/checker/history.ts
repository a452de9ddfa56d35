/**
 * A history is what clients saw: for each operation an `invoke` event, then
 * at most one completion (`ok`, `fail` or `info`) from the same process.
 */
import type { Value } from "./value.js";

export type EventType = "invoke" | "ok" | "fail" | "info";
export const EVENT_TYPES: readonly EventType[] = ["invoke", "ok", "fail", "info"];

/** Jepsen numbers its client processes; our own histories may name them. */
export type ProcessId = number | string;

/** Events from this process are fault injections, not client operations. */
export const NEMESIS: ProcessId = "nemesis";

export interface HistoryEvent {
  readonly process: ProcessId;
  readonly type: EventType;
  /** The function: `read`, `write`, `cas`, `add`, … */
  readonly f: string;
  /** The key the operation touched, when the store has many; absent for a single register. */
  readonly key?: Value;
  /** Absent when the event does not say; `null` is a value (nil). */
  readonly value?: Value;
  /** Any unit, only the order matters: nanoseconds in Jepsen, milliseconds or nanoseconds in ours. */
  readonly time?: number;
  /** The line of the source file the event was read from, for messages. */
  readonly line: number;
}

/** A history that cannot be read or makes no sense; `line` names where. */
export class HistoryError extends Error {
  constructor(
    readonly reason: string,
    readonly line?: number,
  ) {
    super(line === undefined ? reason : `line ${line}: ${reason}`);
    this.name = "HistoryError";
  }
}
