/**
 * The `raftkv` command as users run it: a child process of the real
 * bin/raftkv.js, with standard input to feed, its output collected, and
 * waits on what it prints (with deadlines) for the commands that run until
 * stopped (watch, lock, elect).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { RAFTKV_BIN, waitFor } from "./process-cluster.js";

export interface RaftkvResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RaftkvOptions {
  /** Written to standard input, which is then closed; without it, standard input is empty. */
  readonly input?: string;
  /** Added to this process's environment. */
  readonly env?: Record<string, string>;
}

export class RaftkvProcess {
  stdout = "";
  stderr = "";
  private readonly child: ChildProcess;
  private readonly exited: Promise<RaftkvResult>;

  constructor(
    readonly args: readonly string[],
    options: RaftkvOptions = {},
  ) {
    this.child = spawn(process.execPath, [RAFTKV_BIN, ...args], { env: { ...process.env, ...options.env }, stdio: ["pipe", "pipe", "pipe"] });
    this.child.stdout?.setEncoding("utf8").on("data", (text: string) => (this.stdout += text));
    this.child.stderr?.setEncoding("utf8").on("data", (text: string) => (this.stderr += text));
    this.child.stdin?.end(options.input ?? "");
    this.exited = new Promise((resolve) => this.child.once("close", (code, signal) => resolve({ code, signal, stdout: this.stdout, stderr: this.stderr })));
  }

  /** Waits until standard output matches `pattern`; returns the match. */
  async printed(pattern: RegExp, timeoutMs = 15_000): Promise<RegExpMatchArray> {
    return waitFor(`raftkv ${this.args.join(" ")} to print ${pattern}`, async () => this.stdout.match(pattern) ?? undefined, timeoutMs);
  }

  signal(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }

  /** Waits for the process to end; SIGKILLs it and fails if it takes longer than `timeoutMs`. */
  async finished(timeoutMs = 20_000): Promise<RaftkvResult> {
    const deadline = setTimeout(() => this.child.kill("SIGKILL"), timeoutMs);
    const result = await this.exited;
    clearTimeout(deadline);
    if (result.signal === "SIGKILL") throw new Error(`raftkv ${this.args.join(" ")} ran past ${timeoutMs} ms:\n${result.stdout}${result.stderr}`);
    return result;
  }
}

/** Runs `raftkv …` to completion. */
export function raftkv(args: readonly string[], options: RaftkvOptions = {}): Promise<RaftkvResult> {
  return new RaftkvProcess(args, options).finished();
}
