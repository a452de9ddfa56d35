/** The raftkv command as a child process, the way a user runs it. */
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { MEMBER_ENTRY } from "../../src/member-process.js";

/** The launcher, seen from dist/test/support/. */
const CLI_ENTRY = fileURLToPath(new URL("../../../bin/raftkv.js", import.meta.url));

export interface ExitStatus {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface CliResult extends ExitStatus {
  readonly stdout: string;
  readonly stderr: string;
}

/** A running `raftkv …`, its output collected as it comes. */
export class CliProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<ExitStatus>;
  stdout = "";
  stderr = "";

  constructor(
    private readonly args: readonly string[],
    env: NodeJS.ProcessEnv = process.env,
    entry = CLI_ENTRY,
  ) {
    this.child = spawn(process.execPath, [entry, ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
    this.child.stdout?.setEncoding("utf8").on("data", (text: string) => (this.stdout += text));
    this.child.stderr?.setEncoding("utf8").on("data", (text: string) => (this.stderr += text));
    this.exited = new Promise((resolve) => this.child.once("close", (code, signal) => resolve({ code, signal })));
  }

  /** Waits for it to exit; SIGKILLs it and fails if that takes longer than `timeoutMs`. */
  async finished(timeoutMs: number): Promise<CliResult> {
    let timedOut = false;
    const deadline = setTimeout(() => {
      timedOut = true;
      this.child.kill("SIGKILL");
    }, timeoutMs);
    const status = await this.exited;
    clearTimeout(deadline);
    if (timedOut) {
      throw new Error(`raftkv ${this.args.join(" ")} ran past ${timeoutMs} ms:\n${this.stdout}${this.stderr}`);
    }
    return { ...status, stdout: this.stdout, stderr: this.stderr };
  }
}

/** Runs `raftkv …` to completion. */
export function runCli(args: readonly string[], env?: NodeJS.ProcessEnv, timeoutMs = 10_000): Promise<CliResult> {
  return new CliProcess(args, env).finished(timeoutMs);
}

/** Runs the member's own entry, the bundle every launcher starts (see member-process.ts), to completion. */
export function runMemberEntry(args: readonly string[], timeoutMs = 10_000): Promise<CliResult> {
  return new CliProcess(args, process.env, MEMBER_ENTRY).finished(timeoutMs);
}
