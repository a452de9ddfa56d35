/**
 * What the nemesis and the workloads need of a cluster, whatever runs it:
 * the members' client URLs, and the faults that can be done to them. The
 * local driver runs members in network namespaces; the docker driver runs
 * them as compose services.
 */
import type { DiskFault } from "./disks.js";
import type { Cut, Grudge } from "./grudge.js";
import { HttpStatusError, postJson } from "./http.js";
import { waitFor } from "./wait.js";

/** Faults not every driver can inject. */
export type OptionalFault = "clock" | "throttle" | "balancer" | "disk-full" | "disk-fail";

export interface ClusterDriver {
  /** Member names, `n1`…`nN`. */
  readonly nodes: readonly string[];
  /** Faults this driver cannot inject; the run refuses a nemesis that needs one. */
  readonly unsupported: ReadonlySet<OptionalFault>;
  clientUrl(node: string): string;
  /**
   * Where clients send requests when the cluster sits behind load balancers
   * (they then never pick a member); undefined where they ask members directly.
   */
  readonly balancedUrl?: string;
  /** The peer URL the cluster knows the member by, for membership changes. */
  peerUrl(node: string): string;
  /** Creates the members and starts them all. */
  start(): Promise<void>;
  /** SIGKILL: the process dies without a chance to flush or say goodbye. */
  kill(node: string): Promise<void>;
  /** Starts a killed member again on its data directory. */
  restart(node: string): Promise<void>;
  /**
   * Stops the member if it runs, wipes its data, and starts it empty to join
   * the running cluster (--initial-cluster-state existing), which must have
   * added it already.
   */
  rejoin(node: string): Promise<void>;
  /** SIGSTOP and SIGCONT: the process keeps its sockets but stops answering. */
  pause(node: string): Promise<void>;
  resume(node: string): Promise<void>;
  /** Cuts links between members as the grudge says; replaces any earlier partition. */
  partition(grudge: Grudge, cut?: Cut): Promise<void>;
  heal(): Promise<void>;
  /** Limits the rate of everything sent to the member: 0 stops it, undefined lifts the limit. */
  throttle(node: string, bitsPerSecond: number | undefined): Promise<void>;
  /** Moves a member's wall clock by `offsetSeconds` from true time (0 restores it). */
  skewClock(node: string, offsetSeconds: number): Promise<void>;
  /** Fills the member's file system (`full`) or makes its writes and syncs fail (`fail`). */
  breakDisk(node: string, fault: DiskFault): Promise<void>;
  /**
   * Lifts the disk fault and makes sure the member runs again on its files:
   * started if it exited, restarted if it is still up; resolves saying which.
   */
  repairDisk(node: string): Promise<string>;
  /** Kills the load balancer that holds the clients' address (SIGKILL); resolves with its name. */
  killBalancer(): Promise<string>;
  restartBalancer(name: string): Promise<void>;
  /** Members that exited on their own (not killed by the nemesis), with how, for the report. */
  crashes(): readonly string[];
  /** Stops every member and removes what start() created; safe to call more than once. */
  teardown(): Promise<void>;
}

/** A fault the harness itself cannot carry out on this machine: exit status 2. */
export class HarnessError extends Error {}

export interface MemberStatus {
  readonly node: string;
  readonly memberId: string;
  readonly leaderId: string;
  readonly term: number;
}

interface StatusReply {
  readonly leader?: string;
  readonly raftTerm?: string;
  readonly header: { readonly member_id: string; readonly raft_term?: string };
}

/**
 * How the harness's own status reads identify themselves once a workload
 * has turned auth on: status is root's then, as in etcd 3.4.42 and later.
 */
export interface StatusCredentials {
  /** The token to send, as etcd's gateway takes it in the Authorization header. */
  authorization(): Promise<string>;
  /** A status read was refused with the last one: the next read gets another. */
  refused(): void;
}

let statusCredentials: StatusCredentials | undefined;

/** From now on, status reads carry these credentials (none: undefined). */
export function readStatusAs(credentials: StatusCredentials | undefined): void {
  statusCredentials = credentials;
}

/** The status of every member (or of `nodes`) that answers within `timeoutMs`. */
export async function memberStatuses(driver: ClusterDriver, timeoutMs = 500, nodes: readonly string[] = driver.nodes): Promise<MemberStatus[]> {
  const credentials = statusCredentials;
  const authorization = await credentials?.authorization().catch(() => undefined);
  const replies = await Promise.allSettled(
    nodes.map(async (node) => {
      const reply = await postJson<StatusReply>(driver.clientUrl(node), "/v3/maintenance/status", {}, timeoutMs, authorization).catch((error: unknown) => {
        if (error instanceof HttpStatusError && error.status === 401) credentials?.refused();
        throw error;
      });
      return {
        node,
        memberId: reply.header.member_id,
        leaderId: reply.leader ?? "0",
        term: Number(reply.raftTerm ?? reply.header.raft_term ?? 0),
      };
    }),
  );
  return replies.flatMap((reply) => (reply.status === "fulfilled" ? [reply.value] : []));
}

/** The member that leads in the newest term any member knows of, if one answers as leader. */
export async function findLeader(driver: ClusterDriver): Promise<string | undefined> {
  const statuses = await memberStatuses(driver);
  const leaders = statuses.filter((status) => status.memberId === status.leaderId).sort((a, b) => b.term - a.term);
  return leaders[0]?.node;
}

/** Waits until every member answers and all agree on one leader. */
export async function waitForAgreedLeader(driver: ClusterDriver, timeoutMs: number, signal?: AbortSignal): Promise<string> {
  return waitFor(
    "every member to agree on a leader",
    async () => {
      const statuses = await memberStatuses(driver);
      const leaderIds = new Set(statuses.map((status) => status.leaderId));
      if (statuses.length < driver.nodes.length || leaderIds.size !== 1 || leaderIds.has("0")) return undefined;
      return statuses.find((status) => status.memberId === status.leaderId)?.node;
    },
    timeoutMs,
    signal,
  );
}
