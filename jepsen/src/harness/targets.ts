/**
 * What a member of the cluster under test is: raftkv's `serve`, or Debian's
 * etcd 3.4 for a side-by-side run. Both get the same heartbeat and election
 * timeout and are driven through the same etcd v3 gateway operations.
 */
import { memberCommand as raftkvMemberCommand } from "@raftkv/cli/member-process";

export const TARGETS = ["raftkv", "etcd"] as const;
export type Target = (typeof TARGETS)[number];

/** One member's place in the cluster, as its command line needs it. */
export interface MemberSpec {
  readonly name: string;
  readonly dataDir: string;
  readonly clientUrl: string;
  readonly peerUrl: string;
  /** `name=peerUrl` for every founding member, joined by commas. */
  readonly initialCluster: string;
  /** `existing` for a member started empty to join a running cluster. */
  readonly state: "new" | "existing";
}

export interface Timing {
  readonly heartbeatMs: number;
  readonly electionMs: number;
}

/** Fast failure detection, so that a short run sees many faults and recoveries. */
export const DEFAULT_TIMING: Timing = { heartbeatMs: 50, electionMs: 500 };

const ETCD_BIN = "/usr/bin/etcd";

/** The argv that starts `member` of a `target` cluster: executable first. */
export type MemberCommand = (member: MemberSpec) => string[];

export function memberCommand(target: Target, timing: Timing, extraFlags: readonly string[]): MemberCommand {
  return target === "raftkv" ? (member) => raftkvArgv(member, timing, extraFlags) : (member) => etcdArgv(member, timing, extraFlags);
}

/** The flags shown in a report's settings. */
export function timingFlags(timing: Timing): string[] {
  return [`--heartbeat-interval=${timing.heartbeatMs}`, `--election-timeout=${timing.electionMs}`];
}

function raftkvArgv(member: MemberSpec, timing: Timing, extraFlags: readonly string[]): string[] {
  const { command, args } = raftkvMemberCommand([
    `--name=${member.name}`,
    `--data-dir=${member.dataDir}`,
    `--listen-client-urls=${member.clientUrl}`,
    `--listen-peer-urls=${member.peerUrl}`,
    `--initial-cluster=${member.initialCluster}`,
    `--initial-cluster-state=${member.state}`,
    ...timingFlags(timing),
    ...extraFlags,
  ]);
  return [command, ...args];
}

function etcdArgv(member: MemberSpec, timing: Timing, extraFlags: readonly string[]): string[] {
  return [
    ETCD_BIN,
    `--name=${member.name}`,
    `--data-dir=${member.dataDir}`,
    `--listen-client-urls=${member.clientUrl}`,
    `--advertise-client-urls=${member.clientUrl}`,
    `--listen-peer-urls=${member.peerUrl}`,
    `--initial-advertise-peer-urls=${member.peerUrl}`,
    `--initial-cluster=${member.initialCluster}`,
    `--initial-cluster-state=${member.state}`,
    ...timingFlags(timing),
    ...extraFlags,
  ];
}
