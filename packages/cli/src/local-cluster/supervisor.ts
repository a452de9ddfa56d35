/**
 * Runs each member of a local cluster as its own `raftkv serve` process:
 * prints their log lines under their names, restarts a member whose storage
 * failed (it exits with EXIT_STORAGE_FAILURE), reports one that dies
 * otherwise while the others keep running, and stops them all on request.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import type { Readable, Writable } from "node:stream";
import { setTimeout as delay } from "node:timers/promises";
import { styleText } from "node:util";
import { EXIT_STORAGE_FAILURE } from "@raftkv/server/storage-failure";
import { memberCommand } from "../member-process.js";
import { serveArgv, type ServeFlagValues } from "../serve-flags.js";

const LABEL_COLOURS = ["cyan", "magenta", "yellow", "green", "blue"] as const;

export interface MemberLaunch {
  readonly name: string;
  readonly flags: ServeFlagValues;
}

interface Member {
  readonly name: string;
  /** The current process: a restart replaces it. */
  process: ChildProcess;
  /** Resolves once the process has exited, is not being restarted, and all its output has been printed. */
  closed: Promise<void>;
  /** Set once it has been sent SIGKILL. */
  killed: boolean;
}

/** A member restarted after a storage failure waits this long first, so that one that fails at once does not spin. */
const RESTART_DELAY_MS = 1_000;

export class LocalCluster {
  /** What went wrong, one line each, for the verdict once everything has stopped. */
  readonly problems: string[] = [];
  private readonly members: readonly Member[];
  private stopping = false;

  /** Starts one `serve` process per launch; `say` prints a line of our own. */
  constructor(
    launches: readonly MemberLaunch[],
    private readonly say: (line: string) => void,
  ) {
    const labelWidth = Math.max(...launches.map((launch) => launch.name.length));
    this.members = launches.map((launch, index) => this.supervise(launch, labelFor(launch.name, labelWidth, index)));
    // Whatever ends this process, no node may outlive it: we are the only way to stop them.
    process.on("exit", () => this.killRunning("was killed as raftkv exited"));
  }

  /** Resolves once every member has exited, asked to or not. */
  async allExited(): Promise<void> {
    await Promise.all(this.members.map((member) => member.closed));
  }

  /** SIGTERM to every running member; SIGKILL to any still running after `deadlineMs`. */
  async stop(deadlineMs: number): Promise<void> {
    this.stopping = true;
    const running = this.running();
    this.say(`stopping ${running.map((member) => member.name).join(", ")}`);
    for (const member of running) member.process.kill("SIGTERM");
    const deadline = setTimeout(() => this.killRunning(`did not stop within ${deadlineMs / 1000} s and was killed`), deadlineMs);
    await Promise.all(running.map((member) => member.closed));
    clearTimeout(deadline);
  }

  /** Starts a member, and starts it again each time its storage fails, until it exits otherwise. */
  private supervise(launch: MemberLaunch, label: string): Member {
    const member: Member = { name: launch.name, process: this.start(launch, label), closed: Promise.resolve(), killed: false };
    member.closed = this.restartOnStorageFailure(member, launch, label);
    return member;
  }

  private async restartOnStorageFailure(member: Member, launch: MemberLaunch, label: string): Promise<void> {
    for (;;) {
      const { code, signal } = await this.exitOf(member.process);
      if (code !== EXIT_STORAGE_FAILURE || this.stopping || member.killed) return this.reportExit(member, describeExit(code, signal), code === 0);
      this.say(`${member.name} exited with status ${code}: its storage failed; restarting it in ${RESTART_DELAY_MS / 1000} s`);
      await delay(RESTART_DELAY_MS);
      if (this.stopping) return;
      member.process = this.start(launch, label);
    }
  }

  private start(launch: MemberLaunch, label: string): ChildProcess {
    const { command, args } = memberCommand(serveArgv(launch.flags));
    const child = spawn(command, args, {
      // A process group of its own: Ctrl-C in a terminal signals the whole
      // foreground group, and a node stops gracefully only on its first signal,
      // which must be the SIGTERM we send.
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.once("error", (error) => this.say(`${launch.name} could not be started: ${error.message}`));
    prefixLines(child.stdout, process.stdout, label);
    prefixLines(child.stderr, process.stderr, label);
    this.say(`${launch.name} started (pid ${child.pid ?? "none"})`);
    return child;
  }

  /** Resolves once the process has exited and all its output has been printed. */
  private exitOf(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    return new Promise((resolve) => child.once("close", (code: number | null, signal: NodeJS.Signals | null) => resolve({ code, signal })));
  }

  private reportExit(member: Member, how: string, cleanly: boolean): void {
    if (member.killed) return; // killRunning has said so already
    if (!this.stopping) {
      const others = this.running().length > 0 ? "; the other nodes keep running" : "";
      this.problem(`${member.name} exited unexpectedly (${how})`, others);
    } else if (!cleanly) {
      this.problem(`${member.name} stopped with ${how}`);
    } else {
      this.say(`${member.name} stopped`);
    }
  }

  private killRunning(why: string): void {
    for (const member of this.running()) {
      member.killed = true;
      this.problem(`${member.name} ${why}`);
      member.process.kill("SIGKILL");
    }
  }

  private problem(description: string, aside = ""): void {
    this.problems.push(description);
    this.say(description + aside);
  }

  private running(): Member[] {
    return this.members.filter((member) => member.process.exitCode === null && member.process.signalCode === null);
  }
}

function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  return signal ? `signal ${signal}` : `exit code ${code}`;
}

/** The member's name, padded to line up, in a colour of its own on a terminal. */
function labelFor(name: string, width: number, index: number): string {
  const label = name.padEnd(width);
  const colour = LABEL_COLOURS[index % LABEL_COLOURS.length];
  const useColour = process.stdout.isTTY && process.env.NO_COLOR === undefined;
  return useColour && colour ? styleText(colour, label) : label;
}

function prefixLines(from: Readable, to: Writable, label: string): void {
  createInterface({ input: from, crlfDelay: Infinity }).on("line", (line) => to.write(`${label} | ${line}\n`));
}
