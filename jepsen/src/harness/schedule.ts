/**
 * When faults happen, decided before the run from its seed: alternating
 * quiet and fault windows, each fault drawn from the chosen kinds. Which
 * node a fault hits is left to the moment it starts, when the harness can
 * see who leads.
 */
import { PARTITION_SHAPES, type PartitionShape } from "./grudge.js";
import type { Random } from "./random.js";

export type NemesisKind = "kill" | "pause" | "partition" | "clock" | "member" | "balancer" | "disk-full" | "disk-fail";
export const NEMESIS_KINDS: readonly NemesisKind[] = ["kill", "pause", "partition", "clock", "member", "balancer", "disk-full", "disk-fail"];

/** A random member, or whichever member leads when the fault starts. */
export type Target = "random" | "leader";

export type Fault =
  | { readonly kind: "kill" | "pause" | "member" | "disk-full" | "disk-fail"; readonly target: Target }
  | { readonly kind: "partition"; readonly shape: PartitionShape }
  | { readonly kind: "clock"; readonly target: Target; readonly offsetSeconds: number }
  | { readonly kind: "balancer" };

export interface ScheduledFault {
  readonly startMs: number;
  readonly endMs: number;
  readonly fault: Fault;
}

export interface ScheduleOptions {
  readonly kinds: readonly NemesisKind[];
  readonly durationMs: number;
  readonly nodes: number;
  /** Mean length of the windows with no fault and with one. */
  readonly quietMs: number;
  readonly faultMs: number;
}

/** Largest clock offset, either way; beyond lease and election timeouts by far. */
const MAX_SKEW_SECONDS = 30;

/**
 * `none`, `all`, or kinds joined by commas. `all` is the process and network
 * faults; clock skew (members must start under libfaketime), membership
 * churn, killing the active load balancer (the docker driver's) and disk
 * faults (members must start on disks that can break) are asked for by name.
 */
export function parseNemesis(spec: string): NemesisKind[] {
  if (spec === "none") return [];
  if (spec === "all") return ["kill", "pause", "partition"];
  const kinds = spec.split(",").map((kind) => kind.trim());
  const unknown = kinds.filter((kind) => !NEMESIS_KINDS.includes(kind as NemesisKind));
  if (unknown.length > 0) throw new Error(`unknown nemesis ${unknown.join(", ")}: choose from ${NEMESIS_KINDS.join(", ")}, all or none`);
  return [...new Set(kinds as NemesisKind[])];
}

export function schedule(options: ScheduleOptions, random: Random): ScheduledFault[] {
  if (options.kinds.length === 0) return [];
  const faults: ScheduledFault[] = [];
  let start = jitter(options.quietMs, random);
  for (;;) {
    const end = start + jitter(options.faultMs, random);
    if (end > options.durationMs) return faults;
    faults.push({ startMs: start, endMs: end, fault: drawFault(random.pick(options.kinds), options.nodes, random) });
    start = end + jitter(options.quietMs, random);
  }
}

function drawFault(kind: NemesisKind, nodes: number, random: Random): Fault {
  const target: Target = random.next() < 0.5 ? "leader" : "random";
  switch (kind) {
    case "kill":
    case "pause":
    case "member":
    case "disk-full":
    case "disk-fail":
      return { kind, target };
    case "partition":
      return { kind, shape: random.pick(shapesFor(nodes)) };
    case "clock":
      return { kind, target, offsetSeconds: (random.int(MAX_SKEW_SECONDS) + 1) * (random.next() < 0.5 ? -1 : 1) };
    case "balancer":
      return { kind };
  }
}

/** On three nodes a majority ring cuts nothing, so it is not drawn. */
function shapesFor(nodes: number): readonly PartitionShape[] {
  return nodes >= 5 ? PARTITION_SHAPES : PARTITION_SHAPES.filter((shape) => shape !== "ring");
}

/** Between half and one and a half times the mean, so faults do not fall into step with the workload. */
function jitter(meanMs: number, random: Random): number {
  return Math.round(meanMs * (0.5 + random.next()));
}

export function describeFault(fault: Fault): string {
  switch (fault.kind) {
    case "kill":
    case "pause":
      return `${fault.kind} ${fault.target === "leader" ? "the leader" : "a random node"}`;
    case "member":
      return `remove ${fault.target === "leader" ? "the leader" : "a random node"} from the cluster, then add it back empty`;
    case "disk-full":
    case "disk-fail":
      return `${fault.kind === "disk-full" ? "fill" : "fail"} ${fault.target === "leader" ? "the leader's" : "a random node's"} disk`;
    case "partition":
      return `partition (${fault.shape})`;
    case "clock":
      return `skew ${fault.target === "leader" ? "the leader's" : "a random node's"} clock by ${fault.offsetSeconds} s`;
    case "balancer":
      return "kill the active load balancer";
  }
}

/** Churn: a new fault this often (from the last one's start), lasting this long. */
export const CHURN_INTERVAL_MS = { min: 1_500, max: 2_500 } as const;
export const CHURN_FAULT_MS = { min: 800, max: 1_500 } as const;

/**
 * Churn, as members fail in a busy fleet: every 1.5–2.5 s a random member is
 * killed (and restarted 0.8–1.5 s later) or paused (and resumed). A fault
 * ends before the next begins, but a restarted member may still be starting
 * when the next one goes down. Every target is random, so one seed gives
 * every store the same faults on the same members at the same times.
 */
export function churnSchedule(kind: "kill" | "pause", durationMs: number, random: Random): ScheduledFault[] {
  const faults: ScheduledFault[] = [];
  for (let start = between(CHURN_INTERVAL_MS, random); ; start += between(CHURN_INTERVAL_MS, random)) {
    const end = start + between(CHURN_FAULT_MS, random);
    if (end > durationMs) return faults;
    faults.push({ startMs: start, endMs: end, fault: { kind, target: "random" } });
  }
}

function between(range: { readonly min: number; readonly max: number }, random: Random): number {
  return range.min + Math.round(random.next() * (range.max - range.min));
}
