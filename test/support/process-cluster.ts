/**
 * Real clusters for tests: every member is its own `raftkv serve` process on
 * 127.0.0.1 with free ports, its own data directory, and its output kept for
 * the failure report. Waits are on conditions with deadlines, never sleeps.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { request as httpsRequest } from "node:https";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { memberCommand } from "@raftkv/cli/member-process";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
export const RAFTKV_BIN = join(REPO, "packages/cli/bin/raftkv.js");

export interface ClusterMember {
  readonly name: string;
  readonly clientUrl: string;
  readonly peerUrl: string;
  readonly dataDir: string;
  /** Flags for this member alone (see ProcessClusterOptions.memberFlags). */
  readonly flags: readonly string[];
  process: ChildProcess | undefined;
  output: string[];
}

/** How often start() tries before giving up on a cluster whose members keep exiting. */
const START_ATTEMPTS = 3;

export interface ProcessClusterOptions {
  readonly size: number;
  readonly heartbeatMs?: number;
  readonly electionMs?: number;
  readonly extraFlags?: readonly string[];
  /** Flags for one member, asked anew at each start attempt (addresses on free ports, say). */
  readonly memberFlags?: (name: string) => Promise<readonly string[]>;
  /** Runs before any member starts: fill the data directories, say. */
  readonly prepare?: (members: readonly ClusterMember[], initialCluster: string) => Promise<void>;
  /** https:// peer URLs: the members speak TLS to each other (give them the peer flags). */
  readonly peerTls?: boolean;
  /** https:// client URLs, reached with these credentials (give the members the client TLS flags). */
  readonly clientTls?: ClientCredentials;
}

/** What a client shows and trusts on a member's https:// client URL. */
export interface ClientCredentials {
  readonly ca: Buffer;
  readonly cert: Buffer;
  readonly key: Buffer;
}

export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolvePort(address.port) : reject(new Error("no port"))));
    });
  });
}

/** Polls `condition` until it holds or the deadline passes. */
export async function waitFor<T>(what: string, condition: () => Promise<T | undefined | false>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await condition();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      lastError = error;
    }
    await new Promise((resolveWait) => setTimeout(resolveWait, 25));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${String(lastError)}` : ""}`);
}

export class ProcessCluster {
  private constructor(
    readonly members: ClusterMember[],
    private readonly root: string,
    private readonly flags: readonly string[],
    private readonly schemes: Schemes,
  ) {}

  /**
   * Starts a new cluster and waits until every member serves under one
   * leader. Ports are picked free and then bound by the member, so another
   * test may take one in between; a member that exits during start-up makes
   * the whole cluster start again on fresh ports.
   */
  static async start(options: ProcessClusterOptions): Promise<ProcessCluster> {
    for (let attempt = 1; ; attempt++) {
      const cluster = await ProcessCluster.launchNew(options);
      let outcome: { exited: string } | { leader: ClusterMember };
      try {
        outcome = await cluster.waitForEveryMember();
      } catch (error) {
        // The caller gets no cluster to stop: members left running would keep the test process alive forever.
        await cluster.stop();
        throw error;
      }
      if ("leader" in outcome) return cluster;
      const logs = cluster.logs();
      await cluster.stop();
      if (attempt === START_ATTEMPTS) throw new Error(`member ${outcome.exited} exited during start-up, ${START_ATTEMPTS} times:\n${logs}`);
    }
  }

  private static async launchNew(options: ProcessClusterOptions): Promise<ProcessCluster> {
    const root = await mkdtemp(join(tmpdir(), "raftkv-cluster-"));
    const schemes = { client: options.clientTls, peer: options.peerTls ? "https" : "http" } as const;
    const members: ClusterMember[] = [];
    for (let i = 1; i <= options.size; i++) {
      members.push(await newMember(`n${i}`, root, schemes, (await options.memberFlags?.(`n${i}`)) ?? []));
    }
    const flags = [`--heartbeat-interval=${options.heartbeatMs ?? 50}`, `--election-timeout=${options.electionMs ?? 500}`, ...(options.extraFlags ?? [])];
    const cluster = new ProcessCluster(members, root, flags, schemes);
    await options.prepare?.(members, cluster.initialCluster());
    for (const member of members) cluster.launch(member);
    return cluster;
  }

  /** Every member serving under one leader, or the first member found to have exited. */
  private waitForEveryMember(): Promise<{ exited: string } | { leader: ClusterMember }> {
    return waitFor("every member serving under one leader", async () => {
      const exited = this.members.find((member) => member.process === undefined);
      if (exited) return { exited: exited.name };
      const leader = await this.agreedLeader(this.members);
      return leader && { leader };
    });
  }

  member(name: string): ClusterMember {
    const member = this.members.find((candidate) => candidate.name === name);
    if (!member) throw new Error(`no member ${name}`);
    return member;
  }

  running(): ClusterMember[] {
    return this.members.filter((member) => member.process !== undefined);
  }

  initialCluster(): string {
    return this.members.map((m) => `${m.name}=${m.peerUrl}`).join(",");
  }

  /** Starts a new member that joins the running cluster (after a member add). */
  async join(name: string, flags: readonly string[] = []): Promise<ClusterMember> {
    const member = await newMember(name, this.root, this.schemes, flags);
    this.members.push(member);
    return member;
  }

  /** Launches a member created by join(), once the cluster has added it. */
  startJoined(member: ClusterMember): void {
    this.launch(member, "existing");
  }

  /** Forgets a member that was removed from the cluster and stopped. */
  forget(name: string): void {
    const index = this.members.findIndex((member) => member.name === name);
    if (index >= 0) this.members.splice(index, 1);
  }

  private launch(member: ClusterMember, state: "new" | "existing" = "new"): void {
    const initialCluster = this.initialCluster();
    const { command, args } = memberCommand([
      `--name=${member.name}`,
      `--data-dir=${member.dataDir}`,
      `--listen-client-urls=${member.clientUrl}`,
      `--listen-peer-urls=${member.peerUrl}`,
      `--initial-cluster=${initialCluster}`,
      `--initial-cluster-state=${state}`,
      ...this.flags,
      ...member.flags,
    ]);
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
    const keep = (chunk: Buffer) => {
      member.output.push(chunk.toString());
      if (member.output.length > 200) member.output.shift();
    };
    child.stdout?.on("data", keep);
    child.stderr?.on("data", keep);
    child.on("exit", (code, signal) => {
      keep(Buffer.from(`[process exited: ${signal ?? `code ${code}`}]\n`));
      if (member.process === child) member.process = undefined;
    });
    member.process = child;
  }

  /** SIGKILL (or another signal) and wait for the process to be gone. */
  async kill(name: string, signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    const member = this.member(name);
    const child = member.process;
    if (!child) return;
    const exited = new Promise((resolveExit) => child.once("exit", resolveExit));
    child.kill(signal);
    await exited;
    member.process = undefined;
  }

  restart(name: string): void {
    const member = this.member(name);
    if (member.process) throw new Error(`${name} is running`);
    // Only the new process's output counts from here on.
    member.output = [];
    this.launch(member);
  }

  /** The member every running member agrees leads, once they agree. */
  async waitForLeader(timeoutMs = 20_000): Promise<ClusterMember> {
    return waitFor("an agreed leader", () => this.agreedLeader(this.running()), timeoutMs);
  }

  private async agreedLeader(members: readonly ClusterMember[]): Promise<ClusterMember | undefined> {
    const statuses = await Promise.all(
      members.map(async (member) => ({ member, status: await postJson(member.clientUrl, "/v3/maintenance/status", {}, this.schemes.client) })),
    );
    const leaders = new Set(statuses.map(({ status }) => String(status.leader)));
    if (leaders.size !== 1) return undefined;
    const [leaderId] = [...leaders];
    return statuses.find(({ status }) => String((status.header as { member_id: string }).member_id) === leaderId)?.member;
  }

  /** Everything the members printed, for a failure message. */
  logs(): string {
    return this.members.map((member) => `--- ${member.name}\n${member.output.join("")}`).join("\n");
  }

  async stop(): Promise<void> {
    await Promise.all(this.running().map((member) => this.kill(member.name, "SIGKILL")));
    await rm(this.root, { recursive: true, force: true });
  }
}

interface Schemes {
  /** Set for https:// client URLs. */
  readonly client: ClientCredentials | undefined;
  readonly peer: "http" | "https";
}

async function newMember(name: string, root: string, schemes: Schemes, flags: readonly string[]): Promise<ClusterMember> {
  const [clientPort, peerPort] = [await freePort(), await freePort()];
  return {
    name,
    clientUrl: `${schemes.client ? "https" : "http"}://127.0.0.1:${clientPort}`,
    peerUrl: `${schemes.peer}://127.0.0.1:${peerPort}`,
    dataDir: join(root, name),
    flags,
    process: undefined,
    output: [],
  };
}

/** POSTs `body` as JSON; over TLS with `credentials` (fetch takes no client certificate). */
export async function postJson(baseUrl: string, path: string, body: unknown, credentials?: ClientCredentials): Promise<Record<string, unknown>> {
  const { status, text } = await (credentials
    ? postOverTls(`${baseUrl}${path}`, JSON.stringify(body), credentials)
    : postPlain(`${baseUrl}${path}`, JSON.stringify(body)));
  const parsed = JSON.parse(text) as Record<string, unknown>;
  if (status < 200 || status > 299) throw new HttpError(status, parsed);
  return parsed;
}

interface Answer {
  readonly status: number;
  readonly text: string;
}

async function postPlain(url: string, body: string): Promise<Answer> {
  const response = await fetch(url, { method: "POST", body, signal: AbortSignal.timeout(5_000) });
  return { status: response.status, text: await response.text() };
}

function postOverTls(url: string, body: string, credentials: ClientCredentials): Promise<Answer> {
  return new Promise((resolveAnswer, reject) => {
    const request = httpsRequest(url, { method: "POST", ...credentials, agent: false, timeout: 5_000 }, (response) => {
      let text = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => (text += chunk));
      response.on("end", () => resolveAnswer({ status: response.statusCode ?? 0, text }));
      response.on("error", reject);
    });
    request.on("timeout", () => request.destroy(new Error(`no answer from ${url} within 5 s`)));
    request.on("error", reject);
    request.end(body);
  });
}

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: Record<string, unknown>,
  ) {
    super(`HTTP ${status}: ${JSON.stringify(body)}`);
  }
}

/**
 * Waits until the member at `baseUrl` has applied `revision`. A write is
 * acknowledged once the member that took it has applied it; the others apply
 * it a little later, so a test that then reads or watches on another member
 * without a start revision must wait for this first.
 */
export async function waitForRevision(baseUrl: string, revision: number): Promise<void> {
  await waitFor(`${baseUrl} to apply revision ${revision}`, async () => {
    const range = await postJson(baseUrl, "/v3/kv/range", { key: b64("\0"), serializable: true, count_only: true });
    return Number((range.header as { revision: string }).revision) >= revision;
  });
}

export const b64 = (text: string): string => Buffer.from(text).toString("base64");
export const unb64 = (text: string): string => Buffer.from(text, "base64").toString();
