/**
 * `raftkv lock <name> [command…]`: takes a distributed lock (first come,
 * first served) and either runs a command while holding it, or shows the
 * lock's key and holds it until Ctrl-C.
 *
 * The command gets the fencing token in RAFTKV_LOCK_TOKEN: it grows with
 * every new holder, so whatever the command writes to can refuse a holder
 * that lost the lock without knowing it (a paused process, say). If the lock
 * is lost while the command runs, the command gets SIGTERM and raftkv exits 1.
 */
import { spawn } from "node:child_process";
import type { Client, HeldLock } from "@raftkv/client";
import type { Command } from "commander";
import { positiveWholeNumber, toHex } from "../arguments.js";
import { SilentExit } from "../errors.js";
import type { OutputFormat } from "../global-options.js";
import { show } from "../output.js";
import { withClient } from "../session.js";
import { firstAborted, shutdownSignal, signalExitCode } from "../signals.js";

/** What the command run under the lock finds in its environment. */
const LOCK_TOKEN_VARIABLE = "RAFTKV_LOCK_TOKEN";
const LOCK_KEY_VARIABLE = "RAFTKV_LOCK_KEY";

const EXAMPLES = `
Examples:
  raftkv lock nightly-report -- ./report.sh --full
        runs the script while holding the lock; it sees ${LOCK_TOKEN_VARIABLE} and ${LOCK_KEY_VARIABLE}
  raftkv lock nightly-report
        shows the lock's key and fencing token, and holds the lock until Ctrl-C

Put -- before a command that has options of its own. raftkv exits with the
command's exit code, and releases the lock when the command ends. Ctrl-C
reaches the command through the terminal; a SIGTERM sent to raftkv is passed
on to it. Should raftkv die, the lock frees itself when its lease runs out (--ttl).`;

export function registerLock(program: Command): void {
  program
    .command("lock <name> [command...]")
    .description("take a distributed lock, then run a command while holding it (or hold it until Ctrl-C)")
    .option("--ttl <seconds>", "lease TTL: how long a crashed holder keeps others waiting", positiveWholeNumber, 10)
    .addHelpText("after", EXAMPLES)
    .action((name: string, commandLine: string[], flags: { ttl: number }, command: Command) =>
      withClient(command, async ({ client, options }) => {
        const stop = shutdownSignal();
        const held = await acquire(client, name, flags.ttl, stop);
        try {
          const exitCode = commandLine.length > 0 ? await runHolding(held, commandLine) : await holdUntilStopped(held, stop, options.writeOut);
          if (exitCode !== 0) throw new SilentExit(exitCode);
        } finally {
          await held.release();
        }
      }),
    );
}

/** Waits for the lock; Ctrl-C while waiting gives up the place in the queue and exits as the signal would. */
async function acquire(client: Client, name: string, ttl: number, stop: AbortSignal): Promise<HeldLock> {
  const { Lock } = await import("@raftkv/client");
  try {
    return await new Lock(client, name, { ttl }).acquire({ signal: stop });
  } catch (error) {
    if (stop.aborted) throw new SilentExit(signalExitCode(stop.reason as NodeJS.Signals));
    throw error;
  }
}

async function holdUntilStopped(held: HeldLock, stop: AbortSignal, format: OutputFormat): Promise<number> {
  show(format, {
    json: () => ({ key: held.key.toString("base64"), fencing_token: held.fencingToken, lease: held.leaseId }),
    // etcdctl prints the key alone; scripts may rely on that.
    simple: () => [held.key.toString()],
    table: () => ({ header: ["KEY", "FENCING TOKEN", "LEASE"], rows: [[held.key.toString(), String(held.fencingToken), toHex(held.leaseId)]] }),
  });
  if ((await firstAborted(stop, held.lost)) === held.lost) throw held.lost.reason;
  return 0;
}

/** Runs the command with the lock's token in its environment; its exit code, or the signal's that ended it. */
async function runHolding(held: HeldLock, [program = "", ...args]: string[]): Promise<number> {
  const child = spawn(program, args, {
    stdio: "inherit",
    env: { ...process.env, [LOCK_TOKEN_VARIABLE]: String(held.fencingToken), [LOCK_KEY_VARIABLE]: held.key.toString() },
  });
  const passOn = (): void => void child.kill("SIGTERM");
  process.on("SIGTERM", passOn);
  held.lost.addEventListener("abort", passOn, { once: true });
  try {
    const { code, signal } = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
      child.once("error", (error) => reject(new Error(`cannot run ${program}: ${error.message}`)));
      child.once("exit", (exitCode, exitSignal) => resolve({ code: exitCode, signal: exitSignal }));
    });
    if (held.lost.aborted) throw held.lost.reason;
    return code ?? signalExitCode(signal ?? "SIGKILL");
  } finally {
    process.off("SIGTERM", passOn);
    held.lost.removeEventListener("abort", passOn);
  }
}
