/**
 * The docker driver: the same faults on the compose cluster of
 * docker-compose.yml, by docker's own means. Members are the services
 * n1…nN (containers raftkv-n1…), reached on the ports the compose file
 * publishes. Partitions are iptables rules inside the containers (they have
 * NET_ADMIN), which cut any shape of grudge, where `docker network
 * disconnect` could only isolate whole containers.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { HarnessError, type ClusterDriver } from "./cluster.js";
import type { Grudge } from "./grudge.js";

const run = promisify(execFile);

export interface DockerClusterOptions {
  readonly size: 3 | 5;
  readonly composeFile: string;
}

export class DockerCluster implements ClusterDriver {
  readonly nodes: readonly string[];
  readonly unsupported: ReadonlySet<"clock"> = new Set(["clock"]);
  private readonly addresses = new Map<string, string>();

  constructor(private readonly options: DockerClusterOptions) {
    this.nodes = Array.from({ length: options.size }, (_, i) => `n${i + 1}`);
  }

  /** Published as 12379, 22379, …, as in docker-compose.yml. */
  clientUrl(node: string): string {
    return `http://127.0.0.1:${node.slice(1)}2379`;
  }

  async start(): Promise<void> {
    await this.compose("up", "-d", "--build");
    for (const node of this.nodes) {
      const address = await docker("inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", container(node));
      this.addresses.set(node, address.trim());
    }
  }

  async kill(node: string): Promise<void> {
    await docker("kill", "--signal", "KILL", container(node));
  }

  async restart(node: string): Promise<void> {
    await docker("start", container(node));
  }

  async pause(node: string): Promise<void> {
    await docker("pause", container(node));
  }

  async resume(node: string): Promise<void> {
    await docker("unpause", container(node));
  }

  async partition(grudge: Grudge): Promise<void> {
    await this.heal();
    for (const [node, dropped] of grudge) {
      for (const peer of dropped) await docker("exec", container(node), "iptables", "-A", "INPUT", "-s", this.address(peer), "-j", "DROP");
    }
  }

  async heal(): Promise<void> {
    for (const node of this.nodes) await docker("exec", container(node), "iptables", "-F", "INPUT");
  }

  async skewClock(): Promise<void> {
    throw new HarnessError("containers share the host's clock: the docker driver cannot skew it");
  }

  /** Compose restarts nothing (restart: "no"), but telling a crash from a kill would need docker events: not tracked. */
  crashes(): readonly string[] {
    return [];
  }

  async teardown(): Promise<void> {
    await this.compose("down", "--volumes");
  }

  private address(node: string): string {
    const address = this.addresses.get(node);
    if (address === undefined) throw new Error(`no address for ${node}: the cluster was not started`);
    return address;
  }

  private async compose(...args: string[]): Promise<void> {
    const profile = this.options.size === 5 ? ["--profile", "five"] : [];
    const env = { ...process.env, RAFTKV_CLUSTER_SIZE: String(this.options.size) };
    await run("docker-compose", ["-f", this.options.composeFile, ...profile, ...args], { env }).catch((error: unknown) => {
      throw new HarnessError(`docker-compose ${args[0]} failed: ${error instanceof Error ? error.message : String(error)}`);
    });
  }
}

function container(node: string): string {
  return `raftkv-${node}`;
}

async function docker(...args: string[]): Promise<string> {
  return (await run("docker", args)).stdout;
}
