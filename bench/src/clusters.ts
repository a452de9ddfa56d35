/**
 * Local 3-node clusters of raftkv and of etcd (Debian's etcd-server 3.4),
 * each member its own process on 127.0.0.1, started the same way so they can
 * be measured side by side.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { copyFile, mkdir, mkdtemp, readdir, rename, rm, stat } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { memberCommand } from "@raftkv/cli/member-process";
import { describeCpus, etcdVersion } from "./machine.js";

export type System = "raftkv" | "etcd";

export interface Member {
  readonly name: string;
  readonly clientUrl: string;
  readonly peerUrl: string;
  readonly dataDir: string;
  process: ChildProcess | undefined;
  /** How the benchmark's own calls reach it when clients need TLS or a token (see ClientSecurity). */
  access?: Access;
}

/** The CA that signed the members' client certificates, and root's token once auth is on. */
export interface Access {
  readonly ca?: Buffer;
  readonly token?: string;
}

/** Client TLS as etcd's flags give it, the same files for both systems: a certificate and key the CA signed for 127.0.0.1. */
export interface ClientSecurity {
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
}

/**
 * How members are started beyond the defaults: extra Node.js flags for raftkv
 * members (e.g. --cpu-prof), serve flags of a member's own, and environment
 * variables added to the benchmark's own.
 */
export interface LaunchOptions {
  readonly nodeFlags?: readonly string[];
  readonly memberFlags?: (member: Member) => readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  /** https:// client URLs with these certificates. */
  readonly tls?: ClientSecurity;
}

export function etcdInstalled(): boolean {
  return spawnSync("etcd", ["--version"], { stdio: "ignore" }).status === 0;
}

/** Where a run was measured, for the head of its report. */
export function describeMachine(): { cpus: string; loadAverage: number[]; node: string; etcd: string | undefined } {
  return { cpus: describeCpus(), loadAverage: loadavg(), node: process.version, etcd: etcdVersion() };
}

/** One cluster per system, side by side: raftkv's members from `basePort`, etcd's from `basePort` + 1000. */
export async function startSideBySide(systems: readonly System[], basePort: number, options: LaunchOptions = {}): Promise<LocalCluster[]> {
  const clusters: LocalCluster[] = [];
  try {
    for (const system of systems) clusters.push(await LocalCluster.start(system, basePort + (system === "etcd" ? 1000 : 0), 3, options));
    return clusters;
  } catch (error) {
    await Promise.all(clusters.map((cluster) => cluster.stop()));
    throw error;
  }
}

export class LocalCluster {
  private constructor(
    readonly system: System,
    readonly members: Member[],
    private readonly root: string,
    private readonly options: LaunchOptions,
  ) {}

  static async start(system: System, basePort: number, size = 3, options: LaunchOptions = {}): Promise<LocalCluster> {
    const root = await mkdtemp(join(tmpdir(), `bench-${system}-`));
    const members = Array.from({ length: size }, (_, i) => ({
      name: `m${i + 1}`,
      clientUrl: `${options.tls ? "https" : "http"}://127.0.0.1:${basePort + i * 10}`,
      peerUrl: `http://127.0.0.1:${basePort + i * 10 + 1}`,
      dataDir: join(root, `m${i + 1}`),
      process: undefined,
      ...(options.tls && { access: { ca: readFileSync(options.tls.caFile) } }),
    }));
    const cluster = new LocalCluster(system, members, root, options);
    for (const member of members) cluster.launch(member);
    await cluster.waitForLeader(30_000);
    await cluster.failIfAnyExited();
    return cluster;
  }

  /** A member that died at start-up would leave a smaller cluster measured as if whole: stop, saying why. */
  private async failIfAnyExited(): Promise<void> {
    const exited = this.members.filter((member) => !member.process);
    if (exited.length === 0) return;
    const why = exited.map((member) => `${member.name}: ${readFileSync(this.logFile(member), "utf8").trim().split("\n").slice(-3).join(" / ")}`);
    await this.stop();
    throw new Error(`${this.system}: members exited at start-up: ${why.join("; ")}`);
  }

  /** A member's log (its stdout and stderr), deleted with the cluster unless kept (see keepLogs). */
  private logFile(member: Member): string {
    return join(this.root, `${member.name}.log`);
  }

  /** Copies every member's log into `dir` (as `<system>-<member>.log`), for a run that failed to be looked into. */
  async keepLogs(dir: string): Promise<void> {
    await mkdir(dir, { recursive: true });
    for (const member of this.members) {
      await copyFile(this.logFile(member), join(dir, `${this.system}-${member.name}.log`)).catch(() => undefined);
    }
  }

  running(): Member[] {
    return this.members.filter((member) => member.process);
  }

  launch(member: Member): void {
    const initialCluster = this.members.map((m) => `${m.name}=${m.peerUrl}`).join(",");
    const flags = [
      `--name=${member.name}`,
      `--data-dir=${member.dataDir}`,
      `--listen-client-urls=${member.clientUrl}`,
      `--advertise-client-urls=${member.clientUrl}`,
      `--listen-peer-urls=${member.peerUrl}`,
      `--initial-advertise-peer-urls=${member.peerUrl}`,
      `--initial-cluster=${initialCluster}`,
      "--initial-cluster-state=new",
      ...(this.options.tls ? [`--cert-file=${this.options.tls.certFile}`, `--key-file=${this.options.tls.keyFile}`] : []),
      ...(this.options.memberFlags?.(member) ?? []),
    ];
    const { command, args } = this.system === "raftkv" ? memberCommand(flags, this.options.nodeFlags, this.options.env) : { command: "etcd", args: flags };
    const log = openSync(this.logFile(member), "a");
    const child = spawn(command, args, { stdio: ["ignore", log, log], env: { ...process.env, ...this.options.env } });
    closeSync(log);
    child.on("exit", () => {
      if (member.process === child) member.process = undefined;
    });
    member.process = child;
  }

  /** Stops a member; SIGTERM lets it exit in order (and write a --cpu-prof profile). */
  async kill(member: Member, signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    const child = member.process;
    if (!child) return;
    const exited = new Promise((resolveExit) => child.once("exit", resolveExit));
    child.kill(signal);
    await exited;
    member.process = undefined;
  }

  /** The member all running members name as leader. */
  async waitForLeader(timeoutMs: number): Promise<Member> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const leader = await this.agreedLeader().catch(() => undefined);
      if (leader) return leader;
      await new Promise((resolveWait) => setTimeout(resolveWait, 20));
    }
    throw new Error(`${this.system}: no leader within ${timeoutMs} ms`);
  }

  private async agreedLeader(): Promise<Member | undefined> {
    const statuses = await Promise.all(this.running().map(async (member) => ({ member, status: await status(member) })));
    const leaders = new Set(statuses.map(({ status: s }) => s.leader));
    if (leaders.size !== 1) return undefined;
    return statuses.find(({ status: s }) => s.header.member_id === s.leader)?.member;
  }

  /**
   * etcd's auth on, with root the only user, and root's token kept for the
   * benchmark's own calls; returns the token, for the load's calls.
   */
  async enableAuth(password: string): Promise<string> {
    const leader = await this.waitForLeader(10_000);
    const steps: [string, object][] = [
      ["/v3/auth/user/add", { name: "root", password }],
      ["/v3/auth/user/grant", { user: "root", role: "root" }],
      ["/v3/auth/enable", {}],
    ];
    for (const [path, body] of steps) await gatewayCall(leader, path, body, 5_000);
    const { token } = (await gatewayCall(leader, "/v3/auth/authenticate", { name: "root", password }, 5_000)) as { token: string };
    for (const member of this.members) member.access = { ...member.access, token };
    return token;
  }

  async stop(signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    await Promise.all(this.running().map((member) => this.kill(member, signal)));
    await rm(this.root, { recursive: true, force: true });
  }

  /**
   * The raft index of the newest snapshot file in a member's data directory
   * (0 if none). Both systems name the files after term and index, in hex:
   * raftkv `snap/<index>-<term>.snap`, etcd `member/snap/<term>-<index>.snap`.
   */
  async snapshotIndex(member: Member): Promise<number> {
    const dir = this.system === "raftkv" ? join(member.dataDir, "snap") : join(member.dataDir, "member", "snap");
    const names = await readdir(dir).catch(() => [] as string[]);
    const indexes = names.flatMap((name) => {
      const match = /^([0-9a-f]{16})-([0-9a-f]{16})\.snap$/.exec(name);
      if (!match) return [];
      return [parseInt(this.system === "raftkv" ? match[1]! : match[2]!, 16)];
    });
    return Math.max(0, ...indexes);
  }
}

/** Bytes a member's data directory takes on disk (allocated blocks, as `du` counts them). */
export async function dataDirBytes(member: Member): Promise<number> {
  return diskBytes(member.dataDir);
}

async function diskBytes(path: string): Promise<number> {
  const info = await stat(path);
  if (!info.isDirectory()) return info.blocks * 512;
  const entries = await readdir(path);
  const inside = await Promise.all(entries.map((entry) => diskBytes(join(path, entry))));
  return inside.reduce((sum, bytes) => sum + bytes, info.blocks * 512);
}

export interface StatusReply {
  leader: string;
  raftIndex: string;
  header: { member_id: string; revision: string };
}

/** A member's /v3/maintenance/status (etcd's gateway spells int64 as strings). */
export async function status(member: Member): Promise<StatusReply> {
  return (await gatewayCall(member, "/v3/maintenance/status", {}, 500)) as StatusReply;
}

/** One etcd-gateway put; true when acknowledged. */
export async function put(member: Member, key: string, value: string, timeoutMs: number): Promise<boolean> {
  const body = { key: Buffer.from(key).toString("base64"), value: Buffer.from(value).toString("base64") };
  return gatewayCall(member, "/v3/kv/put", body, timeoutMs).then(
    () => true,
    () => false,
  );
}

/** A POST to a member's etcd gateway, trusting its CA and carrying root's token where the cluster has them; the reply parsed. */
export function gatewayCall(member: Member, path: string, body: object, timeoutMs: number): Promise<unknown> {
  const url = new URL(path, member.clientUrl);
  const { ca, token } = member.access ?? {};
  const headers = { "content-type": "application/json", ...(token !== undefined && { authorization: token }) };
  return new Promise((resolveCall, reject) => {
    const request = (url.protocol === "https:" ? httpsRequest : httpRequest)(
      url,
      { method: "POST", headers, timeout: timeoutMs, ...(ca && { ca }) },
      (response) => {
        let text = "";
        response.setEncoding("utf8");
        response.on("data", (chunk: string) => (text += chunk));
        response.on("end", () =>
          response.statusCode === 200 ? resolveCall(JSON.parse(text)) : reject(new Error(`${path}: HTTP ${response.statusCode}: ${text}`)),
        );
        response.on("error", reject);
      },
    );
    request.on("timeout", () => request.destroy(new Error(`${path}: no answer within ${timeoutMs} ms`)));
    request.on("error", reject);
    request.end(JSON.stringify(body));
  });
}

/** Node's flags that profile raftkv members (node --cpu-prof) into `dir`, if given; see stopSideBySide. */
export async function profilingFlags(dir: string | undefined): Promise<string[]> {
  if (dir === undefined) return [];
  await mkdir(dir, { recursive: true });
  return ["--cpu-prof", `--cpu-prof-dir=${dir}`];
}

/**
 * Profiles are written when a member exits in order, so a profiled cluster
 * gets SIGTERM; its files are then named after the member and its role.
 */
export async function stopSideBySide(clusters: readonly LocalCluster[], profileDir: string | undefined): Promise<void> {
  for (const cluster of clusters) {
    if (!profileDir || cluster.system !== "raftkv") {
      await cluster.stop();
      continue;
    }
    const leader = await cluster.waitForLeader(5_000).catch(() => undefined);
    const roles = new Map(cluster.running().map((m) => [m.process?.pid, `${m.name}-${m === leader ? "leader" : "follower"}`]));
    await cluster.stop("SIGTERM");
    for (const file of await readdir(profileDir)) {
      const pid = /^CPU\.\d+\.\d+\.(\d+)\.\d+\.\d+\.cpuprofile$/.exec(file)?.[1];
      const role = pid === undefined ? undefined : roles.get(Number(pid));
      if (role) await rename(join(profileDir, file), join(profileDir, `${role}.cpuprofile`));
    }
  }
}
