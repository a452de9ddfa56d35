/**
 * A whole cluster of simulated members under one seed: clients send puts,
 * linearizable reads and compare-and-sets through the members' KV services,
 * and others hold leases (support/lease-clients.ts), while the seed crashes
 * and restarts members, partitions the network and heals it, and changes
 * the membership through the leader (a learner joins, is promoted, a voter
 * is removed). Then
 * everything heals, the members catch up, and the run is judged: one leader
 * per term, the same entry applied at each index everywhere, the same store
 * everywhere, every acknowledged write in every store, each key's history
 * linearizable, no lease revoked before its time, and every lease let go of
 * ended.
 */
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { crc32 } from "node:zlib";
import { SeededRng, type Entry, type NodeId } from "@raftkv/raft";
import { SimDisk } from "@raftkv/wal";
import { isEtcdError } from "../../../src/errors.js";
import type * as api from "../../../src/kv/api.js";
import { putRequest, rangeRequest } from "../../../src/recipes/kv.js";
import { LeaseClients } from "./lease-clients.js";
import { checkRegister, type RegisterOp, type TimedOp } from "./linearizability.js";
import type { StorageFailure } from "../../../src/storage-failure.js";
import { SimMember, joiner, newStore, type MemberDisks, type MemberTiming, type UnsafeSwitches } from "./member.js";
import { SimNetwork } from "./network.js";
import { Scheduler } from "./scheduler.js";

export interface SimulationOptions {
  readonly seed: number;
  readonly members: number;
  /** How long clients run and faults strike, in simulated milliseconds. */
  readonly durationMs: number;
  readonly clients: number;
  readonly keys: number;
  /** Clients that grant leases, keep them alive a while, and let them go. */
  readonly leaseClients: number;
  readonly unsafe?: UnsafeSwitches;
}

export interface SimulationResult {
  /** A digest of everything observable: the same seed must give the same one. */
  readonly digest: string;
  /** What went wrong; empty for a sound run. */
  readonly violations: readonly string[];
  readonly operations: { readonly ok: number; readonly failed: number; readonly unknown: number };
  readonly faults: number;
  /** Members that joined (their first start) and that were removed (retired). */
  readonly membership: { readonly joined: number; readonly removed: number };
}

const TIMING: MemberTiming = { tickMs: 100, heartbeatTicks: 1, electionTicks: 10, requestTimeoutMs: 5_000 };
/** How long a client waits for an answer before it gives up on knowing the outcome. */
const CLIENT_DEADLINE_MS = 3_000;
const FAULT_EVERY_MS = { min: 200, max: 2_000 };
/** Each seed also picks how lossy and slow its network is, and whether it may crash a majority at once. */
const DROP_RATES = [0.01, 0.05, 0.15] as const;
const MAX_DELAYS_MS = [10, 40, 150] as const;
/** After everything heals, how long the members get to agree. */
const CONVERGE_WITHIN_MS = 60_000;
/** After that, how long the leases clients let go of may take to end: the longest TTL and a few leader changes' worth. */
const LEASES_END_WITHIN_MS = 30_000;
/** Members that may join one run: each joins once, and one may join after another was removed. */
const MOST_JOINERS = 2;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

interface Recorded {
  readonly client: number;
  readonly key: string;
  readonly op: RegisterOp;
  readonly invoked: number;
  completed: number | undefined;
  outcome: "pending" | "ok" | "failed" | "unknown";
}

export async function simulate(options: SimulationOptions): Promise<SimulationResult> {
  const simulation = new Simulation(options);
  try {
    return await simulation.run();
  } finally {
    await simulation.cleanUp();
  }
}

class Simulation {
  private readonly scheduler = new Scheduler();
  private readonly faultRng: SeededRng;
  private readonly clientRng: SeededRng;
  private readonly network: SimNetwork;
  private readonly leaseClients: LeaseClients;
  /** How many members may be down at once. */
  private readonly mostDown: number;
  /** The members of the founding log. */
  private readonly founders: NodeId[];
  /** The cluster's members as the simulation runs them: the founders, joiners once their addition applied, less the removed. */
  private ids: NodeId[];
  /** Members whose removal applied: never started again, and out of the final judging. */
  private readonly retired = new Set<NodeId>();
  /** How many joiners' additions were asked for. */
  private joiners = 0;
  private readonly members = new Map<NodeId, SimMember>();
  private readonly disks = new Map<NodeId, MemberDisks>();
  private readonly runs = new Map<NodeId, number>();
  /** Members that failed to start for a reason other than a power loss: healing does not try them again. */
  private readonly unstartable = new Set<NodeId>();
  private readonly history: Recorded[] = [];
  private readonly violations: string[] = [];
  private readonly leaders = new Map<number, NodeId>();
  private readonly applied = new Map<number, string>();
  private events = 0;
  private faults = 0;
  private clientsRunning = false;
  private dir = "";

  constructor(private readonly options: SimulationOptions) {
    this.faultRng = new SeededRng(options.seed * 3 + 1);
    this.clientRng = new SeededRng(options.seed * 3 + 2);
    const dropRate = DROP_RATES[this.faultRng.nextInt(DROP_RATES.length)] as number;
    const maxDelayMs = MAX_DELAYS_MS[this.faultRng.nextInt(MAX_DELAYS_MS.length)] as number;
    this.network = new SimNetwork(this.scheduler, new SeededRng(options.seed * 3 + 3), { dropRate, minDelayMs: 1, maxDelayMs });
    // One seed in three may leave the cluster without a quorum of members up.
    this.mostDown = this.faultRng.nextInt(3) === 0 ? options.members - 1 : Math.floor((options.members - 1) / 2);
    this.founders = Array.from({ length: options.members }, (_, i) => i + 1);
    this.ids = [...this.founders];
    const leaseRng = new SeededRng(options.seed * 3 + 4);
    this.leaseClients = new LeaseClients(
      {
        scheduler: this.scheduler,
        pickMember: () => this.members.get(this.ids[leaseRng.nextInt(this.ids.length)] as NodeId),
        running: () => this.clientsRunning,
      },
      leaseRng,
    );
  }

  async run(): Promise<SimulationResult> {
    // The member lists are real files: on tmpfs where there is one, so that their fsyncs cost nothing.
    this.dir = await mkdtemp(join(existsSync("/dev/shm") ? "/dev/shm" : tmpdir(), "raftkv-sim-"));
    for (const id of this.ids) await this.startFresh(id);
    this.clientsRunning = true;
    for (let client = 0; client < this.options.clients; client++) this.scheduler.after("client", this.clientRng.nextInt(100), () => this.nextOperation(client));
    this.leaseClients.start(this.options.leaseClients);
    this.scheduleFault();
    await this.scheduler.runUntil(this.options.durationMs);
    this.clientsRunning = false;
    await this.healEverything();
    await this.finalReads();
    await this.letLeasesEnd();
    return this.judge();
  }

  async cleanUp(): Promise<void> {
    if (this.dir !== "") await rm(this.dir, { recursive: true, force: true });
  }

  // ------------------------------------------------------------ members and faults

  /** A member's first start, on empty disks of its own. */
  private async startFresh(id: NodeId): Promise<void> {
    const dir = join(this.dir, `m${id}`);
    await mkdir(dir);
    this.disks.set(id, { wal: new SimDisk({ seed: this.options.seed + id, tornWrites: true }), store: newStore(), dir });
    await this.start(id);
  }

  /**
   * Starts a member from its disks. One that cannot start stays down: a
   * finding, unless the power went during its recovery (an armed crash).
   */
  private async start(id: NodeId): Promise<void> {
    const run = (this.runs.get(id) ?? 0) + 1;
    this.runs.set(id, run);
    const disks = this.disks.get(id) as MemberDisks;
    const crashesBefore = disks.wal.crashes;
    const member = await SimMember.start(id, run, disks, {
      scheduler: this.scheduler,
      network: this.network,
      timing: TIMING,
      founders: this.founders,
      onApply: (member, entries) => this.noteApplied(member, entries),
      onApplied: (member, stateMachine) => this.leaseClients.noteApplied(member, stateMachine.store),
      onLeader: (member, leader, term) => this.noteLeader(member, leader, term),
      onStorageFailure: (member, failure) => this.storageFailed(member, failure),
      ...(this.options.unsafe ? { unsafe: this.options.unsafe } : {}),
    }).catch((error: unknown) => {
      if (disks.wal.crashes > crashesBefore) return undefined;
      this.unstartable.add(id);
      this.violations.push(`member ${id} could not start (run ${run}): ${error instanceof Error ? error.message : String(error)}`);
      return undefined;
    });
    if (!member) return;
    this.members.set(id, member);
    for (const other of this.members.values()) if (other !== member) other.host.peerConnected(id);
  }

  private async crash(id: NodeId): Promise<void> {
    const member = this.members.get(id);
    if (!member) return;
    this.members.delete(id);
    await member.crash();
    // The peers' connections to it reset, as a dead process's do.
    for (const other of this.members.values()) other.host.peerLost(id);
  }

  /** A power loss armed in the middle of a write took the member down: it is crashed. Any other storage failure is a finding. */
  private storageFailed(id: NodeId, failure: StorageFailure): void {
    const member = this.members.get(id);
    if (member?.diskCrashed) void this.crash(id);
    else this.violations.push(`member ${id}'s storage failed (${failure.where}): ${failure.error.message}`);
  }

  private scheduleFault(): void {
    const { min, max } = FAULT_EVERY_MS;
    this.scheduler.after("faults", min + this.faultRng.nextInt(max - min), () => {
      if (!this.clientsRunning) return;
      this.faults++;
      void this.strike();
      this.scheduleFault();
    });
  }

  /**
   * One fault the seed picks: crash a member at once or in the middle of one
   * of its coming disk writes (up to mostDown members down), restart one,
   * partition the network, heal it, or change the membership.
   */
  private async strike(): Promise<void> {
    await this.followMembership();
    const down = this.ids.filter((id) => !this.members.has(id));
    const up = this.ids.filter((id) => this.members.has(id));
    // Membership changes get two chances in seven: a change takes a learner's catching up and a promotion before a removal.
    const choice = this.faultRng.nextInt(7);
    if (choice === 0 && down.length < this.mostDown) {
      await this.crash(this.pick(up));
    } else if (choice === 4 && down.length < this.mostDown) {
      this.members.get(this.pick(up))?.armCrash(this.faultRng.nextInt(6));
    } else if (choice === 1 && down.length > 0) {
      await this.start(this.pick(down));
    } else if (choice === 2) {
      const shuffled = this.shuffled(this.ids);
      const cut = 1 + this.faultRng.nextInt(this.ids.length - 1);
      this.network.partition([shuffled.slice(0, cut), shuffled.slice(cut)]);
    } else if (choice >= 5) {
      this.changeMembership();
    } else {
      this.network.heal();
    }
  }

  /**
   * One membership change through the leader, as an operator makes them: a
   * learner joins while the cluster is at its founding size, a learner is
   * promoted, a voter (the leader too) is removed while the cluster is above
   * its founding size. Refusals (not enough started members, a learner not
   * caught up, leadership lost) are an operator's everyday answers; what a
   * change did shows in the registries (see followMembership).
   */
  private changeMembership(): void {
    const leader = this.leader();
    if (!leader) return;
    const listed = leader.registry.list();
    const learner = listed.find((member) => member.isLearner);
    let change: Promise<unknown> | undefined;
    if (learner) change = leader.cluster.memberPromote(learner.id);
    else if (listed.length > this.options.members) change = leader.cluster.memberRemove(this.pick(listed.map((member) => member.id)));
    else if (this.joiners < MOST_JOINERS) change = leader.cluster.memberAdd([joiner(this.joiners++).peerUrl], true);
    change?.catch(() => undefined);
  }

  /**
   * Runs what the members' applied registries say: a joiner's first start
   * once its addition applied anywhere, and a member's retirement once its
   * removal did. Applied means committed, so no member that is still in the
   * configuration is retired.
   */
  private async followMembership(): Promise<void> {
    const running = [...this.members.values()];
    for (let n = 0; n < this.joiners; n++) {
      const { id } = joiner(n);
      if (this.ids.includes(id) || this.retired.has(id) || !running.some((member) => member.registry.get(id) !== undefined)) continue;
      this.ids.push(id);
      await this.startFresh(id);
    }
    for (const id of this.ids) {
      if (!running.some((member) => member.registry.wasRemoved(id))) continue;
      this.ids = this.ids.filter((each) => each !== id);
      this.retired.add(id);
      await this.crash(id);
    }
  }

  /** Fisher–Yates, from the fault seed. */
  private shuffled(ids: readonly NodeId[]): NodeId[] {
    const order = [...ids];
    for (let i = order.length - 1; i > 0; i--) {
      const j = this.faultRng.nextInt(i + 1);
      [order[i], order[j]] = [order[j] as NodeId, order[i] as NodeId];
    }
    return order;
  }

  private pick(ids: readonly NodeId[]): NodeId {
    return ids[this.faultRng.nextInt(ids.length)] as NodeId;
  }

  /** Heals the network and restarts every member that is down, again if a crash armed earlier takes one down meanwhile. */
  private async healEverything(): Promise<void> {
    this.network.heal();
    await this.converge("everything healed");
  }

  /** Runs until the members agree, restarting any that is down. */
  private async converge(after: string): Promise<void> {
    if (!(await this.runHealedUntil(() => this.converged(), CONVERGE_WITHIN_MS))) {
      this.violations.push(`the members did not agree within ${CONVERGE_WITHIN_MS} ms after ${after}`);
    }
  }

  /**
   * Runs with no new faults until `done` (or `withinMs` passes), following
   * the membership and starting again any member a crash armed earlier
   * took down. Whether `done` came.
   */
  private async runHealedUntil(done: () => boolean, withinMs: number): Promise<boolean> {
    const deadline = this.scheduler.now + withinMs;
    do {
      await this.followMembership();
      for (const id of this.ids) if (!this.members.has(id) && !this.unstartable.has(id)) await this.start(id);
      await this.scheduler.runUntil(this.scheduler.now + 100);
    } while (this.scheduler.now < deadline && !done());
    return done();
  }

  /** A running member that believes it leads. */
  private leader(): SimMember | undefined {
    return [...this.members.values()].find((member) => member.host.isLeader);
  }

  /** A leader, every member applied what it committed, and no client call is still out. */
  private converged(): boolean {
    const members = [...this.members.values()];
    const leader = this.leader();
    if (!leader || this.leaseClients.busy || this.history.some((each) => each.outcome === "pending")) return false;
    const commit = leader.host.status().hardState.commit;
    return members.every((member) => member.stateMachine.appliedIndex === commit);
  }

  // ------------------------------------------------------------ invariants seen as they happen

  private noteLeader(member: NodeId, leader: NodeId, term: number): void {
    if (leader === 0) return;
    const known = this.leaders.get(term);
    if (known === undefined) this.leaders.set(term, leader);
    else if (known !== leader) this.violations.push(`member ${member} follows ${leader} in term ${term}, whose leader was ${known}`);
  }

  private noteApplied(member: NodeId, entries: readonly Entry[]): void {
    for (const entry of entries) {
      const digest = `${entry.term}:${entry.type}:${crc32(entry.data)}`;
      const known = this.applied.get(entry.index);
      if (known === undefined) this.applied.set(entry.index, digest);
      else if (known !== digest) this.violations.push(`member ${member} applied ${digest} at index ${entry.index}, where another applied ${known}`);
    }
  }

  // ------------------------------------------------------------ clients

  private nextOperation(client: number): void {
    if (!this.clientsRunning) return;
    const key = `k${this.clientRng.nextInt(this.options.keys)}`;
    const member = this.members.get(this.ids[this.clientRng.nextInt(this.ids.length)] as NodeId);
    const op = this.chooseOperation(client, key);
    const again = (): void => this.scheduler.after("client", this.clientRng.nextInt(50), () => this.nextOperation(client));
    // A member that is down refuses the connection: nothing was sent.
    if (!member) return again();
    const recorded: Recorded = { client, key, op, invoked: this.events++, completed: undefined, outcome: "pending" };
    this.history.push(recorded);
    void this.call(member, key, op).then((result) => {
      this.settle(recorded, result);
      again();
    });
  }

  private chooseOperation(client: number, key: string): RegisterOp {
    const value = `c${client}-${this.events}`;
    const kind = this.clientRng.nextInt(3);
    if (kind === 0) return { kind: "read", value: undefined };
    const seen = this.lastValueOf(key);
    if (kind === 1 || seen === undefined) return { kind: "put", value };
    return { kind: "cas", expected: seen, value, succeeded: undefined };
  }

  /** The latest value a client learnt for the key: what a client would compare against. */
  private lastValueOf(key: string): string | undefined {
    for (let i = this.history.length - 1; i >= 0; i--) {
      const each = this.history[i] as Recorded;
      if (each.key !== key || each.outcome !== "ok") continue;
      if (each.op.kind === "read" && each.op.value !== undefined) return each.op.value;
      if (each.op.kind !== "read") return each.op.value;
    }
    return undefined;
  }

  /** The operation's result, or what became of it: "failed" (it took no effect) or "unknown" (it may have). */
  private async call(member: SimMember, key: string, op: RegisterOp): Promise<RegisterOp | "failed" | "unknown"> {
    // A write refused for want of a leader was never proposed (see Proposer.propose); any other error leaves it in doubt.
    return this.scheduler.within("client", CLIENT_DEADLINE_MS, "unknown" as const, () =>
      this.send(member, key, op).catch((error: unknown) => (op.kind === "read" || isEtcdError(error, "noLeader") ? ("failed" as const) : ("unknown" as const))),
    );
  }

  private async send(member: SimMember, key: string, op: RegisterOp): Promise<RegisterOp> {
    const keyBytes = encoder.encode(key);
    switch (op.kind) {
      case "read": {
        const response = await member.kv.range(rangeRequest(keyBytes));
        const kv = response.kvs[0];
        return { ...op, value: kv ? decoder.decode(kv.value) : undefined };
      }
      case "put":
        await member.kv.put(putRequest(keyBytes, encoder.encode(op.value)));
        return op;
      case "cas": {
        const compare: api.Compare = { result: "EQUAL", target: "VALUE", key: keyBytes, rangeEnd: new Uint8Array(), operand: encoder.encode(op.expected) };
        const response = await member.kv.txn({ compare: [compare], success: [{ put: putRequest(keyBytes, encoder.encode(op.value)) }], failure: [] });
        return { ...op, succeeded: response.succeeded };
      }
    }
  }

  private settle(recorded: Recorded, result: RegisterOp | "failed" | "unknown"): void {
    if (typeof result === "string") {
      recorded.outcome = result;
      return;
    }
    recorded.completed = this.events++;
    recorded.outcome = "ok";
    (recorded as { op: RegisterOp }).op = result;
  }

  /** After everything healed, each key read once more: a write acknowledged and then lost shows here. */
  private async finalReads(): Promise<void> {
    const leader = this.leader();
    if (!leader) return;
    for (let key = 0; key < this.options.keys; key++) {
      const recorded: Recorded = {
        client: -1,
        key: `k${key}`,
        op: { kind: "read", value: undefined },
        invoked: this.events++,
        completed: undefined,
        outcome: "pending",
      };
      this.history.push(recorded);
      const done = this.call(leader, recorded.key, recorded.op).then((result) => this.settle(recorded, result));
      await this.scheduler.runUntil(this.scheduler.now + CLIENT_DEADLINE_MS + 1);
      await done;
    }
  }

  /** Every lease the clients let go of (or never heard was granted) ends on every member, which then agree again. */
  private async letLeasesEnd(): Promise<void> {
    const leasesLeft = (): number[] => [...this.members.values()].flatMap((member) => member.stateMachine.store.leases().map((lease) => lease.id));
    if (!(await this.runHealedUntil(() => leasesLeft().length === 0, LEASES_END_WITHIN_MS))) {
      const left = [...new Set(leasesLeft())];
      this.violations.push(`leases ${left.join(", ")} were still held ${LEASES_END_WITHIN_MS} ms after their clients let them go`);
    }
    await this.converge("the leases ended");
  }

  // ------------------------------------------------------------ judging the run

  private async judge(): Promise<SimulationResult> {
    const violations = [
      ...this.violations,
      ...this.leaseClients.violations,
      ...(await this.storesDiffer()),
      ...this.lostWrites(),
      ...this.nonLinearizableKeys(),
    ];
    const count = (outcome: Recorded["outcome"]) => this.history.filter((each) => each.outcome === outcome).length;
    const stores = await Promise.all(
      [...this.members.values()].map(async (member) => [member.id, member.stateMachine.appliedIndex, (await member.stateMachine.store.hash()).hash]),
    );
    const digest = createHash("sha256")
      .update(JSON.stringify({ history: this.history, leases: this.leaseClients.history, stores, violations }))
      .digest("hex");
    const joined = this.ids.length + this.retired.size - this.founders.length;
    return {
      digest,
      violations,
      operations: { ok: count("ok"), failed: count("failed"), unknown: count("unknown") },
      faults: this.faults,
      membership: { joined, removed: this.retired.size },
    };
  }

  private async storesDiffer(): Promise<string[]> {
    const hashes = await Promise.all(
      [...this.members.values()].map(async (member) => `${member.stateMachine.appliedIndex}/${(await member.stateMachine.store.hash()).hash}`),
    );
    return new Set(hashes).size > 1 ? [`the members' stores differ after healing (applied index/hash): ${hashes.join(", ")}`] : [];
  }

  /** Every write a client was told succeeded is in every member's history of its key. */
  private lostWrites(): string[] {
    const lost: string[] = [];
    for (const member of this.members.values()) {
      const stored = new Set(storedValues(member));
      for (const each of this.history) {
        if (each.outcome !== "ok" || each.op.kind === "read" || (each.op.kind === "cas" && !each.op.succeeded)) continue;
        if (!stored.has(`${each.key}=${each.op.value}`)) lost.push(`member ${member.id} lost the acknowledged write ${each.key}=${each.op.value}`);
      }
    }
    return lost;
  }

  private nonLinearizableKeys(): string[] {
    const failures: string[] = [];
    for (let key = 0; key < this.options.keys; key++) {
      const ops: TimedOp[] = this.history
        .filter((each) => each.key === `k${key}` && each.outcome !== "failed")
        .map((each) => ({ op: each.op, invoked: each.invoked, completed: each.outcome === "ok" ? each.completed : undefined }));
      const failure = checkRegister(ops);
      if (failure) failures.push(`k${key}: ${failure}`);
    }
    return failures;
  }
}

/** `key=value` for every put the member's store holds in its history (the simulation never compacts). */
function storedValues(member: SimMember): string[] {
  const values: string[] = [];
  for (let from = 1; ; ) {
    const page = member.stateMachine.store.eventsSince(from);
    for (const event of page.events) if (event.type === "PUT") values.push(`${decoder.decode(event.kv.key)}=${decoder.decode(event.kv.value)}`);
    if (page.caughtUp) return values;
    from = page.nextRevision;
  }
}
