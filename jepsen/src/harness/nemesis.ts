/**
 * Carries out a fault schedule on a cluster, and puts everything right at
 * the end. Each fault and its undoing are recorded in the history as
 * nemesis events, which the report shades on its charts.
 */
import { disarmNoSpace } from "./alarms.js";
import { findLeader, memberStatuses, type ClusterDriver } from "./cluster.js";
import { bridge, describeGrudge, halves, isolate, ring, type Grudge, type PartitionShape } from "./grudge.js";
import { addLearner, allVoters, promoteLearner, removeMember } from "./membership.js";
import type { Random } from "./random.js";
import type { Recorder } from "./recorder.js";
import { LEADER_MARK } from "./phases.js";
import { describeFault, type Fault, type ScheduledFault, type Target } from "./schedule.js";
import { delay, waitFor } from "./wait.js";

/** How long a disk's repair tries to disarm NOSPACE (a quorum may be starting again). */
const DISARM_DEADLINE_MS = 10_000;
/** How long membership churn waits for a cluster with every node a voter before skipping its turn. */
const WHOLE_CLUSTER_WAIT_MS = 10_000;
/** How long the member about to be taken down has to say whether it leads: it shortens the fault by as much at most. */
const ROLE_TIMEOUT_MS = 200;

/** What a started fault needs to be undone. */
type Undo = () => Promise<void>;

export class Nemesis {
  private readonly killed = new Set<string>();
  private readonly paused = new Set<string>();
  private readonly skewed = new Set<string>();
  private readonly removed = new Set<string>();
  private readonly killedBalancers = new Set<string>();
  private readonly brokenDisks = new Set<string>();

  constructor(
    private readonly driver: ClusterDriver,
    private readonly recorder: Recorder,
    private readonly random: Random,
    private readonly faults: readonly ScheduledFault[],
  ) {}

  /** Runs the schedule, its times counted from the recorder's origin, until done or `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    for (const { startMs, endMs, fault } of this.faults) {
      await delay(startMs - this.recorder.now(), signal);
      if (signal.aborted) return;
      const undo = await this.start(fault);
      await delay(endMs - this.recorder.now(), signal);
      await undo();
    }
  }

  /** Resumes, restarts, reconnects and resets every member, whatever is still broken. */
  async healAll(): Promise<void> {
    for (const node of [...this.paused]) await this.resume(node);
    for (const node of [...this.killed]) await this.restart(node);
    for (const node of [...this.skewed]) await this.unskew(node);
    for (const node of [...this.brokenDisks]) await this.repairDisk(node);
    await this.driver.heal();
    for (const node of [...this.removed]) await this.rejoin(node);
    for (const name of [...this.killedBalancers]) await this.restartBalancer(name);
  }

  private async start(fault: Fault): Promise<Undo> {
    switch (fault.kind) {
      case "kill": {
        const node = await this.target(fault.target);
        const role = await this.roleOf(node);
        await this.driver.kill(node);
        this.killed.add(node);
        this.recorder.nemesis("start", `${describeFault(fault)}: kill ${node}${role}`);
        return () => this.restart(node);
      }
      case "pause": {
        const node = await this.target(fault.target);
        const role = await this.roleOf(node);
        await this.driver.pause(node);
        this.paused.add(node);
        this.recorder.nemesis("start", `${describeFault(fault)}: pause ${node}${role}`);
        return () => this.resume(node);
      }
      case "partition": {
        const grudge = await this.grudge(fault.shape);
        await this.driver.partition(grudge);
        this.recorder.nemesis("start", `${describeFault(fault)}: ${describeGrudge(grudge)}`);
        return () => this.heal();
      }
      case "member": {
        // One member out at a time, and only from a whole cluster, so the
        // rest always hold a quorum of the configuration they are left with.
        if (!(await this.whole())) {
          this.recorder.nemesis("skip", `${describeFault(fault)}: the cluster is not whole`);
          return async () => undefined;
        }
        const node = await this.target(fault.target);
        await removeMember(this.driver, node);
        this.removed.add(node);
        await this.driver.kill(node);
        this.recorder.nemesis("start", `${describeFault(fault)}: removed ${node}`);
        return () => this.rejoin(node);
      }
      case "disk-full":
      case "disk-fail": {
        const node = await this.target(fault.target);
        await this.driver.breakDisk(node, fault.kind === "disk-full" ? "full" : "fail");
        this.brokenDisks.add(node);
        this.recorder.nemesis("start", `${describeFault(fault)}: ${node}`);
        return () => this.repairDisk(node);
      }
      case "balancer": {
        const name = await this.driver.killBalancer();
        this.killedBalancers.add(name);
        this.recorder.nemesis("start", `${describeFault(fault)}: ${name}`);
        return () => this.restartBalancer(name);
      }
      case "clock": {
        const node = await this.target(fault.target);
        await this.driver.skewClock(node, fault.offsetSeconds);
        this.skewed.add(node);
        this.recorder.nemesis("start", `${describeFault(fault)}: ${node}`);
        return () => this.unskew(node);
      }
    }
  }

  private async restart(node: string): Promise<void> {
    await this.driver.restart(node);
    this.killed.delete(node);
    this.recorder.nemesis("stop", `restart ${node}`);
  }

  /**
   * Frees the disk, sees the member run again, and disarms a NOSPACE alarm
   * the full disk raised (raftkv raises it when free space falls below its
   * reserve). The alarm needs a quorum to clear; without one in time it is
   * left, and said so.
   */
  private async repairDisk(node: string): Promise<void> {
    const how = await this.driver.repairDisk(node);
    this.brokenDisks.delete(node);
    const disarmed = await disarmNoSpace(this.driver, DISARM_DEADLINE_MS).then(
      (members) => (members.length === 0 ? "" : `; disarmed NOSPACE of ${members.join(", ")}`),
      (error: unknown) => `; could not disarm NOSPACE: ${error instanceof Error ? error.message : String(error)}`,
    );
    this.recorder.nemesis("stop", `repair ${node}'s disk: ${how}${disarmed}`);
  }

  private async restartBalancer(name: string): Promise<void> {
    await this.driver.restartBalancer(name);
    this.killedBalancers.delete(name);
    this.recorder.nemesis("stop", `restart ${name}`);
  }

  private async resume(node: string): Promise<void> {
    await this.driver.resume(node);
    this.paused.delete(node);
    this.recorder.nemesis("stop", `resume ${node}`);
  }

  private async unskew(node: string): Promise<void> {
    await this.driver.skewClock(node, 0);
    this.skewed.delete(node);
    this.recorder.nemesis("stop", `reset ${node}'s clock`);
  }

  /** Adds a removed member back as a learner, starts it empty, and promotes it once it has caught up. */
  private async rejoin(node: string): Promise<void> {
    await addLearner(this.driver, node);
    await this.driver.rejoin(node);
    await promoteLearner(this.driver, node);
    this.removed.delete(node);
    this.recorder.nemesis("stop", `${node} is back, empty, as a voter`);
  }

  /** Whether every node is a voter, as far as a leader found within a few seconds says. */
  private async whole(): Promise<boolean> {
    if (this.removed.size > 0) return false;
    return waitFor("a whole cluster", async () => ((await allVoters(this.driver)) ? true : undefined), WHOLE_CLUSTER_WAIT_MS).then(
      () => true,
      () => false,
    );
  }

  private async heal(): Promise<void> {
    await this.driver.heal();
    this.recorder.nemesis("stop", "heal the network");
  }

  /** The leader when asked for and one answers; otherwise a random member. */
  private async target(target: Target): Promise<string> {
    const leader = target === "leader" ? await findLeader(this.driver) : undefined;
    return leader ?? this.random.pick(this.driver.nodes);
  }

  /** A mark on the fault's label when `node` says it leads, for the report's phases (phases.ts). */
  private async roleOf(node: string): Promise<string> {
    const [status] = await memberStatuses(this.driver, ROLE_TIMEOUT_MS, [node]);
    return status !== undefined && status.memberId === status.leaderId ? ` ${LEADER_MARK}` : "";
  }

  private async grudge(shape: PartitionShape): Promise<Grudge> {
    const nodes = this.driver.nodes;
    switch (shape) {
      case "halves":
        return halves(nodes, this.random);
      case "isolate-leader":
        return isolate(nodes, await this.target("leader"));
      case "ring":
        return ring(nodes, this.random);
      case "bridge":
        return bridge(nodes, this.random);
    }
  }
}
