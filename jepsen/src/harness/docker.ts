/**
 * The docker driver: the same faults on the compose cluster of
 * docker-compose.yml, by docker's own means. Members are the services
 * n1…nN (containers raftkv-n1…, data volumes raftkv-n1-data…), reached on
 * the ports the compose file publishes. Partitions are iptables rules inside
 * the containers (they have NET_ADMIN), which cut any shape of grudge, where
 * `docker network disconnect` could only isolate whole containers.
 *
 * With `throughVirtualIp`, clients go where an application's would: to the
 * virtual IP the two load balancers share, through the `harness` profile's
 * relay on the compose network (the address lives there, not on the host).
 *
 * Every command goes through a CommandRunner, so a test can record the argv
 * this adapter would run without a docker engine.
 */
import { execFile } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { HarnessError, type ClusterDriver, type OptionalFault } from "./cluster.js";
import { CUT_RULES, type Cut, type Grudge } from "./grudge.js";
import { waitFor } from "./wait.js";

/** Runs `command` with `args` (and `env` added to the harness's environment); resolves with its stdout. */
export type CommandRunner = (command: string, args: readonly string[], env?: Readonly<Record<string, string>>) => Promise<string>;

const execFileAsync = promisify(execFile);

export const runCommand: CommandRunner = async (command, args, env = {}) =>
  // Room for a member's whole log (docker logs), far past execFile's 1 MiB default.
  (await execFileAsync(command, [...args], { env: { ...process.env, ...env }, maxBuffer: 256 * 1024 * 1024 })).stdout;

export interface DockerClusterOptions {
  readonly size: 3 | 5;
  readonly composeFile: string;
  readonly throughVirtualIp?: boolean;
  /** Where the members' and balancers' logs are written at teardown, as `logs/<name>.log`. */
  readonly logDir?: string;
  readonly run?: CommandRunner;
}

const VIRTUAL_IP = "10.79.0.100";
const BALANCERS = ["raftkv-lb1", "raftkv-lb2"] as const;
/** The harness profile's relay to the virtual IP, as docker-compose.yml publishes it. */
const RELAY_URL = "http://127.0.0.1:23780";
const BALANCER_DEADLINE_MS = 30_000;

export class DockerCluster implements ClusterDriver {
  readonly nodes: readonly string[];
  readonly unsupported: ReadonlySet<OptionalFault> = new Set(["clock", "throttle", "disk-full", "disk-fail"]);
  readonly balancedUrl: string | undefined;
  private readonly addresses = new Map<string, string>();
  private readonly run: CommandRunner;

  constructor(private readonly options: DockerClusterOptions) {
    this.nodes = Array.from({ length: options.size }, (_, i) => `n${i + 1}`);
    this.run = options.run ?? runCommand;
    this.balancedUrl = options.throughVirtualIp ? RELAY_URL : undefined;
  }

  /** Published as 23791, 23792, …, as in docker-compose.yml. */
  clientUrl(node: string): string {
    return `http://127.0.0.1:2379${node.slice(1)}`;
  }

  /** The service name is the member's host name on the compose network. */
  peerUrl(node: string): string {
    return `http://${node}:2380`;
  }

  /** The images come from scripts/docker-images.sh, which also builds where no registry answers. */
  async start(): Promise<void> {
    await this.compose({}, "up", "--detach", "--no-build");
    for (const node of this.nodes) await this.learnAddress(node);
    // Keepalived elects the balancer that takes the address a couple of seconds after it starts.
    if (this.options.throughVirtualIp) await this.holderOfVirtualIp();
  }

  async kill(node: string): Promise<void> {
    await this.docker("kill", "--signal", "KILL", container(node));
  }

  async restart(node: string): Promise<void> {
    await this.docker("start", container(node));
  }

  /** A new container on a new, empty volume, told to join (its address may change with it). */
  async rejoin(node: string): Promise<void> {
    await this.docker("rm", "--force", container(node));
    await this.docker("volume", "rm", "--force", volume(node));
    await this.compose({ RAFTKV_INITIAL_CLUSTER_STATE: "existing" }, "up", "--detach", "--no-deps", node);
    await this.learnAddress(node);
  }

  async pause(node: string): Promise<void> {
    await this.docker("pause", container(node));
  }

  async resume(node: string): Promise<void> {
    await this.docker("unpause", container(node));
  }

  async partition(grudge: Grudge, cut: Cut = "drop"): Promise<void> {
    await this.heal();
    for (const [node, dropped] of grudge) {
      for (const peer of dropped) await this.docker("exec", container(node), "iptables", "-A", "INPUT", "-s", this.address(peer), ...CUT_RULES[cut]);
    }
  }

  async heal(): Promise<void> {
    for (const node of this.nodes) await this.docker("exec", container(node), "iptables", "-F", "INPUT");
  }

  async throttle(): Promise<void> {
    throw new HarnessError("the docker driver cannot throttle a member's links");
  }

  async skewClock(): Promise<void> {
    throw new HarnessError("containers share the host's clock: the docker driver cannot skew it");
  }

  /** Kills the balancer holding the address, once one does: the last one killed may still be handing it over. */
  async killBalancer(): Promise<string> {
    const active = await this.holderOfVirtualIp();
    await this.docker("kill", "--signal", "KILL", active);
    return active;
  }

  private holderOfVirtualIp(): Promise<string> {
    return waitFor(`a load balancer to hold ${VIRTUAL_IP}`, () => this.activeBalancer(), BALANCER_DEADLINE_MS).catch(() => {
      throw new HarnessError(`no load balancer holds ${VIRTUAL_IP}`);
    });
  }

  private async activeBalancer(): Promise<string | undefined> {
    for (const name of BALANCERS) {
      const addresses = await this.docker("exec", name, "ip", "-4", "-o", "addr", "show", "dev", "eth0").catch(() => "");
      if (addresses.includes(`${VIRTUAL_IP}/`)) return name;
    }
    return undefined;
  }

  async restartBalancer(name: string): Promise<void> {
    await this.docker("start", name);
  }

  async breakDisk(): Promise<void> {
    throw new HarnessError("the docker driver cannot break a member's disk");
  }

  async repairDisk(): Promise<string> {
    throw new HarnessError("the docker driver cannot break a member's disk");
  }

  /** Compose restarts a member that exits on its own (restart: on-failure), never one docker killed; telling a crash from a kill would need docker events: not tracked. */
  crashes(): readonly string[] {
    return [];
  }

  async teardown(): Promise<void> {
    await this.keepLogs();
    await this.compose({}, "down", "--volumes");
  }

  /** The containers' output, before `down` removes them with it (members log to stdout). */
  private async keepLogs(): Promise<void> {
    const logDir = this.options.logDir;
    if (logDir === undefined) return;
    await mkdir(logDir, { recursive: true });
    const names = [...this.nodes.map(container), ...(this.options.throughVirtualIp ? BALANCERS : [])];
    for (const name of names) {
      const output = await this.docker("logs", "--timestamps", name).catch((error: unknown) => `no logs: ${String(error)}\n`);
      await writeFile(join(logDir, `${name.replace(/^raftkv-/, "")}.log`), output);
    }
  }

  private async learnAddress(node: string): Promise<void> {
    const address = await this.docker("inspect", "--format", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", container(node));
    this.addresses.set(node, address.trim());
  }

  private address(node: string): string {
    const address = this.addresses.get(node);
    if (address === undefined) throw new Error(`no address for ${node}: the cluster was not started`);
    return address;
  }

  private async compose(env: Readonly<Record<string, string>>, ...args: string[]): Promise<void> {
    const profile = [...(this.options.size === 5 ? ["--profile", "five"] : []), ...(this.options.throughVirtualIp ? ["--profile", "harness"] : [])];
    const size = { RAFTKV_CLUSTER_SIZE: String(this.options.size) };
    await this.run("docker-compose", ["--file", this.options.composeFile, ...profile, ...args], { ...size, ...env }).catch((error: unknown) => {
      throw new HarnessError(`docker-compose ${args[0]} failed: ${error instanceof Error ? error.message : String(error)}`);
    });
  }

  private docker(...args: string[]): Promise<string> {
    return this.run("docker", args);
  }
}

function container(node: string): string {
  return `raftkv-${node}`;
}

function volume(node: string): string {
  return `raftkv-${node}-data`;
}
