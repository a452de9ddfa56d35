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
      if (received) process.exit(signalExitCode(signal));
      received = true;
      resolve(signal);
    };
    for (const signal of SHUTDOWN_SIGNALS) process.on(signal, onSignal);
  });
}

/** Aborts at the first SIGINT or SIGTERM, for commands that run until stopped (a second signal exits at once). */
export function shutdownSignal(): AbortSignal {
  const controller = new AbortController();
  void firstShutdownSignal().then((signal) => controller.abort(signal));
  return controller.signal;
}

/** The shell's exit code for a process ended by `signal`: 128 + its number. */
export function signalExitCode(signal: NodeJS.Signals): number {
  return 128 + constants.signals[signal];
}

/** Resolves with the first of `signals` to abort. */
export function firstAborted(...signals: AbortSignal[]): Promise<AbortSignal> {
  const already = signals.find((signal) => signal.aborted);
  if (already) return Promise.resolve(already);
  return new Promise((resolve) => {
    for (const signal of signals) signal.addEventListener("abort", () => resolve(signal), { once: true });
  });
}
