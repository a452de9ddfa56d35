/**
 * Shutdown on SIGTERM or SIGINT, the way daemons and terminals expect: the
 * first signal asks for an orderly stop, a second one means "now".
 */
import { constants } from "node:os";

const SHUTDOWN_SIGNALS = ["SIGINT", "SIGTERM"] as const;

/**
 * Resolves with the first shutdown signal. From then on a second one exits
 * the process at once, with the shell's 128 + signal number.
 */
export function firstShutdownSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    let received = false;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (received) process.exit(128 + constants.signals[signal]);
      received = true;
      resolve(signal);
    };
    for (const signal of SHUTDOWN_SIGNALS) process.on(signal, onSignal);
  });
}
