/**
 * Logs with pino: JSON lines carrying the member id and the current term on
 * every line, pretty-printed when a person is watching a terminal.
 */
import pino, { type Logger } from "pino";

export interface LogContext {
  readonly name: string;
  readonly memberId: number;
  readonly term: () => number;
}

export function createLogger(level: string, context: LogContext): Logger {
  const pretty = process.stdout.isTTY === true;
  return pino({
    level,
    base: { name: context.name, memberId: context.memberId },
    mixin: () => ({ term: context.term() }),
    ...(pretty ? { transport: { target: "pino-pretty", options: { colorize: true, ignore: "pid,hostname" } } } : {}),
  });
}
