/**
 * The local driver: each member is a process (`raftkv serve`, or etcd) in its own Linux
 * network namespace, joined by a veth pair to a bridge in the root
 * namespace, where the harness's clients live. Partitions are iptables rules
 * inside the namespaces that DROP packets from peers: real packet loss, as a
 * cut cable looks, not refused connections.
 *
 * Names carry a slot number, so that runs at the same time on one machine
 * get their own bridge, namespaces and subnet 10.77.<slot>.0/24.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { HarnessError, type ClusterDriver, type OptionalFault } from "./cluster.js";
import { MemberDisk, cleanupDisks, type DiskFault, type DiskLayers } from "./disks.js";
import { CUT_RULES, type Cut, type Grudge } from "./grudge.js";
import type { MemberCommand } from "./targets.js";

const run = promisify(execFile);

const CLIENT_PORT = 2379;
const PEER_PORT = 2380;
const LIBFAKETIME = "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1";
const NAMESPACE = /^rkv\d+n\d+$/;
const BRIDGE = /^rkvbr\d+$/;

export interface LocalClusterOptions {
  readonly size: number;
  /** Where data directories, logs and clock files go. */
  readonly dir: string;
  /** The argv that starts a member: raftkv's or etcd's, with the run's timings and extra flags. */
  readonly command: MemberCommand;
  /** Start members under libfaketime so their clocks can be skewed. */
  readonly fakeClocks: boolean;
  /** Give each member a tmpfs it can fill, or a FUSE layer that can fail, or both (disks.ts). */
  readonly disks: DiskLayers;
}

/** The status a member exits with once its storage failed (EX_IOERR), so that a supervisor starts it again. */
const STORAGE_FAILURE_STATUS = 74;

interface Member {
  readonly name: string;
  readonly namespace: string;
  readonly veth: string;
  readonly ip: string;
  readonly disk: MemberDisk;
  process: ChildProcess | undefined;
  /** Set while its disk is broken, and until it is started again: an exit with status 74 is then expected. */
  diskBroken: boolean;
  /** Set when it exited with status 74 while its disk was broken. */
  exitedOnStorageFailure: boolean;
  /**
   * Set once the member has been started empty to join a running cluster:
   * from then on it never founds one, even if killed before it stored anything.
   */
  joined: boolean;
}

export class LocalCluster implements ClusterDriver {
  readonly nodes: readonly string[];
  readonly unsupported: ReadonlySet<OptionalFault>;
  private readonly members: readonly Member[];
  private readonly bridge: string;
  private readonly gateway: string;
  private readonly crashed: string[] = [];
  /** `tc -batch -`, started on the first throttle. */
  private trafficControl: ChildProcess | undefined;

  private constructor(
    private readonly options: LocalClusterOptions,
    slot: number,
  ) {
    this.bridge = `rkvbr${slot}`;
    this.gateway = `10.77.${slot}.1`;
    this.members = Array.from({ length: options.size }, (_, i) => ({
      name: `n${i + 1}`,
      namespace: `rkv${slot}n${i + 1}`,
      veth: `rkv${slot}v${i + 1}`,
      ip: `10.77.${slot}.${11 + i}`,
      disk: new MemberDisk(options.dir, `n${i + 1}`, options.disks),
      process: undefined,
      diskBroken: false,
      exitedOnStorageFailure: false,
      joined: false,
    }));
    this.nodes = this.members.map((member) => member.name);
    this.unsupported = new Set<OptionalFault>([
      "balancer",
      ...(options.fakeClocks ? [] : (["clock"] as const)),
      ...(options.disks.full ? [] : (["disk-full"] as const)),
      ...(options.disks.fail ? [] : (["disk-fail"] as const)),
    ]);
  }

  /** Checks the machine can run members in namespaces, and claims a free slot. */
  static async create(options: LocalClusterOptions): Promise<LocalCluster> {
    await requireTools();
    const taken = [...(await linkNames()), ...(await namespaceNames())];
    const slot = Array.from({ length: 250 }, (_, i) => i + 1).find((candidate) => !taken.some((name) => slotOf(name) === candidate));
    if (slot === undefined) throw new HarnessError("no free slot: run the harness with --cleanup");
    if (options.fakeClocks && !existsSync(LIBFAKETIME)) {
      throw new HarnessError(`the clock nemesis needs libfaketime (${LIBFAKETIME}): apt-get install -y faketime`);
    }
    return new LocalCluster(options, slot);
  }

  clientUrl(node: string): string {
    return `http://${this.member(node).ip}:${CLIENT_PORT}`;
  }

  peerUrl(node: string): string {
    return `http://${this.member(node).ip}:${PEER_PORT}`;
  }

  async start(): Promise<void> {
    await ip("link", "add", this.bridge, "type", "bridge");
    await ip("addr", "add", `${this.gateway}/24`, "dev", this.bridge);
    await ip("link", "set", this.bridge, "up");
    await iptables("-I", ...this.forwardRule());
    for (const member of this.members) await this.wire(member);
    for (const member of this.members) await member.disk.mount();
    for (const member of this.members) this.launch(member);
  }

  async kill(node: string): Promise<void> {
    const member = this.member(node);
    const child = member.process;
    if (child === undefined) return;
    const exited = new Promise((resolveExit) => child.once("exit", resolveExit));
    member.process = undefined;
    child.kill("SIGKILL");
    await exited;
  }

  async restart(node: string): Promise<void> {
    const member = this.member(node);
    if (member.process === undefined) this.launch(member);
  }

  async rejoin(node: string): Promise<void> {
    const member = this.member(node);
    await this.kill(node);
    member.disk.empty();
    member.joined = true;
    this.launch(member);
  }

  async pause(node: string): Promise<void> {
    this.member(node).process?.kill("SIGSTOP");
  }

  async resume(node: string): Promise<void> {
    this.member(node).process?.kill("SIGCONT");
  }

  /**
   * Each namespace's rules are replaced in one iptables-restore, so moving
   * from one partition to the next never opens a link that both cut, even
   * for a moment.
   */
  async partition(grudge: Grudge, cut: Cut = "drop"): Promise<void> {
    for (const member of this.members) {
      const rules = [...(grudge.get(member.name) ?? [])].map((peer) => `-A INPUT -s ${this.member(peer).ip} ${CUT_RULES[cut].join(" ")}\n`);
      await inNamespaceWithInput(member.namespace, `*filter\n:INPUT ACCEPT [0:0]\n${rules.join("")}COMMIT\n`, "iptables-restore");
    }
  }

  async heal(): Promise<void> {
    for (const member of this.members) await inNamespace(member.namespace, "iptables", "-F", "INPUT");
  }

  /**
   * A token bucket on the bridge's end of the member's veth: everything sent
   * to the member queues behind what came before at this rate. The commands
   * go to one long-lived `tc -batch`, so a change takes effect within
   * milliseconds even on a loaded machine, with no process to start.
   */
  async throttle(node: string, bitsPerSecond: number | undefined): Promise<void> {
    const { veth } = this.member(node);
    // tbf needs a rate above zero: 8 bit/s lets nothing more through in practice.
    const command =
      bitsPerSecond === undefined
        ? `qdisc del dev ${veth} root`
        : `qdisc replace dev ${veth} root tbf rate ${Math.max(8, bitsPerSecond)}bit burst 16kb latency 10s`;
    this.trafficControl ??= spawn("tc", ["-force", "-batch", "-"], { stdio: ["pipe", "ignore", "ignore"] });
    const input = this.trafficControl.stdin!;
    await new Promise<void>((resolveWrite, rejectWrite) => input.write(`${command}\n`, (error) => (error ? rejectWrite(error) : resolveWrite())));
  }

  async skewClock(node: string, offsetSeconds: number): Promise<void> {
    if (!this.options.fakeClocks) throw new HarnessError("members were not started under libfaketime");
    writeFileSync(this.clockFile(this.member(node)), `${offsetSeconds >= 0 ? "+" : ""}${offsetSeconds}\n`);
  }

  async breakDisk(node: string, fault: DiskFault): Promise<void> {
    const member = this.member(node);
    if (!this.options.disks[fault]) throw new HarnessError(`members were not given a disk that can ${fault === "full" ? "fill" : "fail"}`);
    member.diskBroken = true;
    await member.disk.break(fault);
  }

  /**
   * A member whose storage failed either exits with status 74 (then it is
   * started) or, on a server that does not, stays up taking no part (then
   * it is restarted, as an operator would).
   */
  async repairDisk(node: string): Promise<string> {
    const member = this.member(node);
    await member.disk.repair();
    const how =
      member.process !== undefined
        ? "restarted (it was still running)"
        : `started (${member.exitedOnStorageFailure ? `it had exited with status ${STORAGE_FAILURE_STATUS}` : "it was not running"})`;
    await this.kill(node);
    member.diskBroken = false;
    member.exitedOnStorageFailure = false;
    this.launch(member);
    return how;
  }

  crashes(): readonly string[] {
    return this.crashed;
  }

  async killBalancer(): Promise<string> {
    throw new HarnessError("the local driver runs no load balancers");
  }

  async restartBalancer(): Promise<void> {
    throw new HarnessError("the local driver runs no load balancers");
  }

  async teardown(): Promise<void> {
    this.trafficControl?.stdin?.end();
    this.trafficControl = undefined;
    await Promise.all(this.members.map((member) => this.kill(member.name)));
    for (const member of this.members) await ip("netns", "del", member.namespace).catch(() => undefined);
    await ip("link", "del", this.bridge).catch(() => undefined);
    await iptables("-D", ...this.forwardRule()).catch(() => undefined);
    const unmounted = await Promise.allSettled(this.members.map((member) => member.disk.unmount()));
    const failed = unmounted.flatMap((result) => (result.status === "rejected" ? [String(result.reason)] : []));
    if (failed.length > 0) throw new HarnessError(`${failed.join("; ")} (run the harness with --cleanup)`);
  }

  /**
   * Lets members' packets cross the bridge between them. Where br_netfilter
   * is loaded (dockerd loads it), bridged packets pass the root namespace's
   * FORWARD chain, whose policy dockerd sets to DROP: without this rule peers
   * never hear each other. Added at start, removed at teardown.
   */
  private forwardRule(): string[] {
    return ["FORWARD", "-i", this.bridge, "-o", this.bridge, "-j", "ACCEPT"];
  }

  private member(node: string): Member {
    const member = this.members.find((candidate) => candidate.name === node);
    if (member === undefined) throw new Error(`no member ${node}`);
    return member;
  }

  private async wire({ namespace, veth, ip: address }: Member): Promise<void> {
    await ip("netns", "add", namespace);
    await ip("link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", namespace);
    await ip("link", "set", veth, "master", this.bridge, "up");
    await ip("-n", namespace, "addr", "add", `${address}/24`, "dev", "eth0");
    await ip("-n", namespace, "link", "set", "eth0", "up");
    await ip("-n", namespace, "link", "set", "lo", "up");
  }

  /** `ip netns exec` execs the command in place, so the child is the member itself and signals reach it. */
  private launch(member: Member): void {
    const initialCluster = this.members.map((m) => `${m.name}=${this.peerUrl(m.name)}`).join(",");
    mkdirSync(join(this.options.dir, "logs"), { recursive: true });
    const logPath = join(this.options.dir, "logs", `${member.name}.log`);
    const log = openSync(logPath, "a");
    const argv = this.options.command({
      name: member.name,
      dataDir: member.disk.dataDir,
      clientUrl: this.clientUrl(member.name),
      peerUrl: this.peerUrl(member.name),
      initialCluster,
      state: member.joined ? "existing" : "new",
    });
    const child = spawn("ip", ["netns", "exec", member.namespace, ...argv], { stdio: ["ignore", log, log], env: this.environment(member) });
    closeSync(log);
    // A member still current when it exits was not killed by kill(): it
    // crashed, unless it gave up on the storage the nemesis broke.
    child.on("exit", (code, signal) => {
      if (member.process !== child) return;
      member.process = undefined;
      if (member.diskBroken && code === STORAGE_FAILURE_STATUS) member.exitedOnStorageFailure = true;
      else this.crashed.push(`${member.name} exited on its own (${signal ?? `status ${code}`})${lastFatalMessage(logPath)}`);
    });
    member.process = child;
  }

  private environment(member: Member): NodeJS.ProcessEnv {
    if (!this.options.fakeClocks) return process.env;
    const clockFile = this.clockFile(member);
    if (!existsSync(clockFile)) writeFileSync(clockFile, "+0\n");
    // Only the wall clock moves: libuv's timers run on the monotonic clock,
    // and faking that would stall or race the event loop rather than skew it.
    return { ...process.env, LD_PRELOAD: LIBFAKETIME, FAKETIME_TIMESTAMP_FILE: clockFile, FAKETIME_NO_CACHE: "1", DONT_FAKE_MONOTONIC: "1" };
  }

  private clockFile(member: Member): string {
    return join(this.options.dir, `${member.name}.faketime`);
  }
}

/**
 * Removes every namespace and bridge any local run left behind, killing the
 * members inside. Another run in progress on this machine dies with them.
 */
export async function cleanupLocalClusters(): Promise<string[]> {
  await requireTools();
  const namespaces = (await namespaceNames()).filter((name) => NAMESPACE.test(name));
  for (const namespace of namespaces) {
    const pids = (await ip("netns", "pids", namespace)).split("\n").filter(Boolean);
    for (const pid of pids) process.kill(Number(pid), "SIGKILL");
    await ip("netns", "del", namespace);
  }
  const bridges = (await linkNames()).filter((name) => BRIDGE.test(name));
  for (const name of bridges) await ip("link", "del", name);
  const rules = await leftForwardRules();
  for (const rule of rules) await iptables("-D", ...rule.split(" ").slice(1));
  const mounts = await cleanupDisks();
  return [...namespaces, ...bridges, ...rules, ...mounts];
}

/** Forward rules of ours (see LocalCluster.forwardRule) left by runs that did not tear down. */
async function leftForwardRules(): Promise<string[]> {
  const rules = (await iptables("-S", "FORWARD")).split("\n");
  return rules.filter((rule) => /^-A FORWARD -i (rkvbr\d+) -o \1 -j ACCEPT$/.test(rule));
}

async function iptables(...args: string[]): Promise<string> {
  return (await run("iptables", ["-w", ...args])).stdout;
}

async function requireTools(): Promise<void> {
  await ip("netns", "list").catch((error: unknown) => {
    throw new HarnessError(`ip netns is unavailable (the local driver needs root and iproute2): ${messageOf(error)}`);
  });
  await run("iptables", ["--version"]).catch(() => {
    throw new HarnessError("iptables is missing: apt-get install -y iptables");
  });
}

/**
 * The slot a bridge, veth or namespace of ours belongs to. A veth can outlive
 * its run for a while: the kernel keeps a deleted namespace, and its end of
 * the pair, until the last socket in it has closed.
 */
function slotOf(name: string): number | undefined {
  const match = /^rkv(?:br(\d+)|(\d+)[vn]\d+)$/.exec(name);
  return match === null ? undefined : Number(match[1] ?? match[2]);
}

async function namespaceNames(): Promise<string[]> {
  return (await ip("netns", "list")).split("\n").map((line) => line.split(" ")[0] ?? "");
}

async function linkNames(): Promise<string[]> {
  const listing = await ip("-o", "link", "show");
  return listing.split("\n").map((line) => line.split(": ")[1]?.split("@")[0] ?? "");
}

async function ip(...args: string[]): Promise<string> {
  return (await run("ip", args)).stdout;
}

async function inNamespace(namespace: string, ...command: string[]): Promise<string> {
  return ip("netns", "exec", namespace, ...command);
}

/** Runs `command` in the namespace with `input` on its stdin. */
function inNamespaceWithInput(namespace: string, input: string, ...command: string[]): Promise<void> {
  return new Promise((resolveRun, rejectRun) => {
    const child = execFile("ip", ["netns", "exec", namespace, ...command], (error) => (error ? rejectRun(error) : resolveRun()));
    child.stdin?.end(input);
  });
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** pino's level number for fatal. */
const FATAL = 60;

/** ": <why>" from the last fatal line of a member's log (pino JSON), or nothing, for a crash's report. */
function lastFatalMessage(logPath: string): string {
  const lines = readFileSync(logPath, "utf8").trimEnd().split("\n").reverse();
  for (const line of lines) {
    const entry = parseLogLine(line);
    if (entry?.level === FATAL) return `: ${entry.msg}${entry.err?.message ? `: ${entry.err.message}` : ""}`;
  }
  return "";
}

function parseLogLine(line: string): { level?: number; msg?: string; err?: { message?: string } } | undefined {
  try {
    return JSON.parse(line) as { level?: number; msg?: string; err?: { message?: string } };
  } catch {
    return undefined;
  }
}
