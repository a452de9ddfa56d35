/**
 * Logs with pino: JSON lines carrying the member id and the current term on
 * every line, pretty-printed when a person is watching a terminal.
 */
import pino, { type Logger } from "pino";

export function createLogger(level: string, context: { member: string; term: () => number }): Logger {
  const pretty = process.stdout.isTTY === true;
  return pino({
    level,
    base: { member: context.member },
    mixin: () => ({ term: context.term() }),
    ...(pretty ? { transport: { target: "pino-pretty", options: { colorize: true, ignore: "pid,hostname" } } } : {}),
  });
}
