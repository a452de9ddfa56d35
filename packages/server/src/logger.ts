/**
 * Logs with pino: JSON lines carrying the member id and the current term on
 * every line, pretty-printed when a person is watching a terminal.
 */
import pino, { type Logger } from "pino";
import pinoPretty from "pino-pretty";

export interface LogContext {
  readonly name: string;
  readonly memberId: number;
  readonly term: () => number;
}

export function createLogger(level: string, context: LogContext): Logger {
  const options = { level, base: { name: context.name, memberId: context.memberId }, mixin: () => ({ term: context.term() }) };
  if (process.stdout.isTTY !== true) return pino(options);
  // A stream in this thread, not pino's transport: a transport's worker finds
  // pino-pretty by module resolution, which a bundled member cannot do.
  return pino(options, pinoPretty({ colorize: true, ignore: "pid,hostname" }));
}
