/**
 * The logging the transport needs: the four levels of pino's
 * `(fields, message)` call shape, so a pino logger (or a child of one) fits
 * as it is without this package depending on pino.
 */
export interface Logger {
  debug(fields: object, message: string): void;
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

const ignore = (): void => {};

export const silentLogger: Logger = { debug: ignore, info: ignore, warn: ignore, error: ignore };
