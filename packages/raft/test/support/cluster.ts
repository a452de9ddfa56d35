/**
 * A deterministic in-process cluster for the Raft core: it owns time, the
 * network and every node's disk, and a seed replays a whole run. Faults are
 * inputs: drops, duplicates, delays (and so reordering), partitions in
 * either direction, and crashes that lose everything not yet persisted.
 *
 * Each node runs the application loop in two halves that the scheduler can
 * separate: "ready" (take the work, send its messages) and "persist" (write
 * the disk, apply, advance). A crash between the halves loses the write.
 */
import {
  ConfChangeType,
  MemoryStorage,
  MessageType,
  ProposalDroppedError,
  RaftNode,
  Role,
  SeededRng,
  bootstrapLog,
  type ConfChange,
  type Entry,
  type HardState,
  type Message,
  type NodeId,
  type Ready,
  type Snapshot,
} from "../../src/index.js";
import { InvariantChecker } from "./invariants.js";

export interface ClusterOptions {
  readonly voters: number;
  /** Ids above the founding voters that may join later. */
  readonly spares?: number;
  readonly seed: number;
  readonly electionTicks?: number;
  readonly heartbeatTicks?: number;
  readonly maxSizePerMsg?: number;
  readonly maxInflightMsgs?: number;
  readonly preVote?: boolean;
  readonly checkQuorum?: boolean;
  /** Take a snapshot after this many applied entries (0: never). */
  readonly snapshotEvery?: number;
  /** Entries kept below a snapshot for followers slightly behind. */
  readonly snapshotTail?: number;
  /** The Figure 8 bug (RaftConfig.unsafeCommitAnyTerm), to prove the invariants catch it. */
  readonly unsafeCommitAnyTerm?: boolean;
}

export interface NetworkConditions {
  dropRate: number;
  duplicateRate: number;
  /** Delivery delay in steps, drawn uniformly from [minDelay, maxDelay]. */
  minDelay: number;
  maxDelay: number;
}

export const PERFECT_NETWORK: NetworkConditions = { dropRate: 0, duplicateRate: 0, minDelay: 1, maxDelay: 1 };

/** The replicated state machine of the simulation: a running hash of applied entries. */
interface MachineState {
  applied: number;
  hash: number;
}

interface InFlightMessage {
  readonly deliverAt: number;
  readonly message: Message;
}

export class SimNode {
  readonly disk = new MemoryStorage();
  raft: RaftNode | undefined;
  machine: MachineState = { applied: 0, hash: 0 };
  pendingReady: Ready | undefined;
  /** The hard state as last synced: a commit-only change is not (mustSync false). */
  syncedHardState: HardState | undefined;
  /** Reads this node asked for: context text -> the committed index when asked. */
  readonly reads = new Map<string, number>();
  readonly servedReads: { context: string; index: number }[] = [];

  constructor(readonly id: NodeId) {}

  get alive(): boolean {
    return this.raft !== undefined;
  }

  get node(): RaftNode {
    if (!this.raft) throw new Error(`node ${this.id} is down`);
    return this.raft;
  }
}

/** Sees every message a node sends, as it enters the network or is lost on a cut link. */
export type MessageObserver = (message: Message, lost: boolean) => void;

export class Cluster {
  readonly rng: SeededRng;
  observer: MessageObserver | undefined;
  readonly nodes = new Map<NodeId, SimNode>();
  readonly checker = new InvariantChecker(this);
  network: NetworkConditions = { ...PERFECT_NETWORK };
  step = 0;
  private inFlight: InFlightMessage[] = [];
  /** Directed links that lose every message: "from>to". */
  private readonly cut = new Set<string>();
  private proposalCounter = 0;
  readonly options: Required<ClusterOptions>;

  constructor(options: ClusterOptions) {
    this.options = {
      spares: 0,
      electionTicks: 10,
      heartbeatTicks: 1,
      maxSizePerMsg: 1024,
      maxInflightMsgs: 8,
      preVote: true,
      checkQuorum: true,
      snapshotEvery: 0,
      snapshotTail: 3,
      unsafeCommitAnyTerm: false,
      ...options,
    };
    this.rng = new SeededRng(options.seed);
    const founders = range(1, this.options.voters);
    const boot = bootstrapLog(founders);
    for (const id of range(1, this.options.voters + this.options.spares)) {
      const sim = new SimNode(id);
      if (founders.includes(id)) {
        sim.disk.append(boot.entries);
        sim.disk.setHardState(boot.hardState);
      }
      this.nodes.set(id, sim);
    }
    this.checker.recordBootstrap(boot.entries);
    for (const id of founders) this.start(id);
    // The founders apply their membership before anything else happens.
    this.stabilize();
  }

  get ids(): NodeId[] {
    return [...this.nodes.keys()];
  }

  sim(id: NodeId): SimNode {
    const sim = this.nodes.get(id);
    if (!sim) throw new Error(`no node ${id}`);
    return sim;
  }

  node(id: NodeId): RaftNode {
    return this.sim(id).node;
  }

  aliveIds(): NodeId[] {
    return this.ids.filter((id) => this.sim(id).alive);
  }

  /** Starts (or restarts) a node from its disk alone. */
  start(id: NodeId): void {
    const sim = this.sim(id);
    if (sim.alive) return;
    const snapshot = sim.disk.snapshot();
    // What was never synced is lost: the commit index falls back to the synced one.
    if (sim.syncedHardState) sim.disk.setHardState(sim.syncedHardState);
    sim.machine = snapshot.meta.index > 0 ? decodeMachine(snapshot.data) : { applied: 0, hash: 0 };
    sim.pendingReady = undefined;
    sim.reads.clear();
    sim.raft = new RaftNode({
      id,
      storage: sim.disk,
      rng: new SeededRng(this.rng.nextUint32()),
      applied: sim.machine.applied,
      electionTicks: this.options.electionTicks,
      heartbeatTicks: this.options.heartbeatTicks,
      maxSizePerMsg: this.options.maxSizePerMsg,
      maxInflightMsgs: this.options.maxInflightMsgs,
      preVote: this.options.preVote,
      checkQuorum: this.options.checkQuorum,
      unsafeCommitAnyTerm: this.options.unsafeCommitAnyTerm,
    });
    this.checker.onStart(id);
  }

  /**
   * Power loss: whatever the node had not persisted is gone. Unless told
   * otherwise, its peers see the connection reset, as the server's transport
   * reports it, and react at once.
   */
  crash(id: NodeId, { peersNotice = true } = {}): void {
    const sim = this.sim(id);
    if (!sim.alive) return;
    sim.raft = undefined;
    sim.pendingReady = undefined;
    if (!peersNotice) return;
    for (const other of this.aliveIds()) {
      if (this.node(other).status().lead === id) this.node(other).leaderLost();
    }
  }

  // ------------------------------------------------------------------ faults

  partition(...groups: NodeId[][]): void {
    this.cut.clear();
    for (const a of groups) {
      for (const b of groups) {
        if (a === b) continue;
        for (const from of a) for (const to of b) this.cut.add(`${from}>${to}`);
      }
    }
  }

  isolate(id: NodeId): void {
    this.partition(
      [id],
      this.ids.filter((other) => other !== id),
    );
  }

  /** Loses messages from `from` to `to` only. */
  cutLink(from: NodeId, to: NodeId): void {
    this.cut.add(`${from}>${to}`);
  }

  heal(): void {
    this.cut.clear();
  }

  isCut(from: NodeId, to: NodeId): boolean {
    return this.cut.has(`${from}>${to}`);
  }

  // ------------------------------------------------------------- client work

  /** Proposes a fresh entry at `id` and returns its payload; throws if the node drops it. */
  propose(id: NodeId): string {
    const payload = `p${++this.proposalCounter}`;
    this.node(id).propose(new TextEncoder().encode(payload));
    return payload;
  }

  /** Like {@link propose}, for random traffic that may hit a node without a leader: undefined if dropped. */
  tryPropose(id: NodeId): string | undefined {
    try {
      return this.propose(id);
    } catch (error) {
      if (error instanceof ProposalDroppedError) return undefined;
      throw error;
    }
  }

  proposeConfChange(id: NodeId, change: ConfChange): boolean {
    try {
      this.node(id).proposeConfChange(change);
      return true;
    } catch (error) {
      if (error instanceof ProposalDroppedError) return false;
      throw error;
    }
  }

  readIndex(id: NodeId): string {
    const context = `r${++this.proposalCounter}`;
    this.sim(id).reads.set(context, this.checker.highestCommitted());
    this.node(id).readIndex(new TextEncoder().encode(context));
    return context;
  }

  // --------------------------------------------------------------- the clock

  /** One step: deliver due messages, run every node's loop halves; tick every `ticksEvery` steps. */
  runStep(ticksEvery = 5): void {
    this.step++;
    this.deliverDue();
    for (const id of this.aliveIds()) this.runLoopHalf(id);
    if (this.step % ticksEvery === 0) for (const id of this.aliveIds()) this.node(id).tick();
    this.checker.checkAll();
  }

  /** Runs steps until `done` holds; throws after `maxSteps`. */
  runUntil(done: () => boolean, maxSteps: number, what: string): void {
    for (let i = 0; i < maxSteps; i++) {
      if (done()) return;
      this.runStep();
    }
    if (!done()) throw new Error(`not reached within ${maxSteps} steps: ${what}`);
  }

  /** Delivers and processes until no message is in flight and no node has work; no ticks. */
  stabilize(maxRounds = 10_000): void {
    for (let round = 0; round < maxRounds; round++) {
      let busy = false;
      for (const id of this.aliveIds()) {
        const sim = this.sim(id);
        if (sim.pendingReady || sim.node.hasReady()) {
          this.runLoopHalf(id);
          busy = true;
        }
      }
      if (this.inFlight.length > 0) {
        this.deliverAll();
        busy = true;
      }
      this.checker.checkAll();
      if (!busy) return;
    }
    throw new Error("cluster did not stabilize");
  }

  tickNode(id: NodeId, times = 1): void {
    for (let i = 0; i < times; i++) this.node(id).tick();
  }

  /**
   * Ticks a follower or candidate until it starts a new (pre-)election.
   * Throws if it does not within its longest election timeout (a learner, or
   * a member with membership changes to apply, never campaigns), so a story
   * cannot go on as if an election had started.
   */
  campaign(id: NodeId): void {
    const node = this.node(id);
    const before = node.status();
    if (before.role === Role.Leader || before.role === Role.PreCandidate) {
      throw new Error(`node ${id} is a ${before.role}: only a follower or a candidate can start a campaign`);
    }
    // Ticks only: a new pre-election changes the role, a new election the term.
    const started = () => {
      const now = node.status();
      return (now.role !== before.role && now.role !== Role.Follower) || now.hardState.term > before.hardState.term;
    };
    const longestTimeout = 2 * this.options.electionTicks;
    for (let i = 0; i < longestTimeout && !started(); i++) node.tick();
    if (!started()) throw new Error(`node ${id} did not campaign within ${longestTimeout} ticks`);
  }

  leader(): NodeId | undefined {
    let best: { id: NodeId; term: number } | undefined;
    for (const id of this.aliveIds()) {
      const status = this.node(id).status();
      if (status.role === Role.Leader && (!best || status.hardState.term > best.term)) best = { id, term: status.hardState.term };
    }
    return best?.id;
  }

  // ----------------------------------------------------------- the network

  private send(message: Message): void {
    if (this.isCut(message.from, message.to) || this.rng.nextFloat() < this.network.dropRate) {
      this.observer?.(message, true);
      this.onLost(message);
      return;
    }
    this.observer?.(message, false);
    this.enqueue(message);
    if (this.rng.nextFloat() < this.network.duplicateRate) this.enqueue(message);
  }

  private enqueue(message: Message): void {
    const { minDelay, maxDelay } = this.network;
    const delay = minDelay + this.rng.nextInt(maxDelay - minDelay + 1);
    this.inFlight.push({ deliverAt: this.step + delay, message });
  }

  private deliverDue(): void {
    const due = this.inFlight.filter((m) => m.deliverAt <= this.step);
    this.inFlight = this.inFlight.filter((m) => m.deliverAt > this.step);
    for (const { message } of due) this.deliver(message);
  }

  /** Delivers every message in flight, in the order sent. */
  deliverAll(filter: (m: Message) => boolean = () => true): void {
    const chosen = this.inFlight.filter((m) => filter(m.message));
    this.inFlight = this.inFlight.filter((m) => !filter(m.message));
    for (const { message } of chosen) this.deliver(message);
  }

  /** Forgets every message in flight (matching the filter). */
  dropInFlight(filter: (m: Message) => boolean = () => true): void {
    const lost = this.inFlight.filter((m) => filter(m.message));
    this.inFlight = this.inFlight.filter((m) => !filter(m.message));
    for (const { message } of lost) this.onLost(message);
  }

  inFlightMessages(): Message[] {
    return this.inFlight.map((m) => m.message);
  }

  private deliver(message: Message): void {
    const target = this.nodes.get(message.to);
    if (!target?.alive || this.isCut(message.from, message.to)) {
      this.onLost(message);
      return;
    }
    target.node.step(message);
    if (message.type === MessageType.Snap) this.reportSnapshot(message, true);
  }

  private onLost(message: Message): void {
    const sender = this.nodes.get(message.from);
    if (!sender?.alive) return;
    if (message.type === MessageType.Snap) this.reportSnapshot(message, false);
    else if (this.isCut(message.from, message.to)) sender.node.reportUnreachable(message.to);
  }

  private reportSnapshot(message: Message, delivered: boolean): void {
    const sender = this.nodes.get(message.from);
    if (sender?.alive) sender.node.reportSnapshot(message.to, delivered);
  }

  // -------------------------------------------------------- the application

  /** Handles one Ready of a node, both halves (or the second half of one already taken). */
  processReady(id: NodeId): void {
    const sim = this.sim(id);
    if (!sim.pendingReady) this.runLoopHalf(id);
    if (sim.pendingReady) this.runLoopHalf(id);
  }

  /** Runs the next half of a node's loop: ready+send, or persist+apply+advance. */
  runLoopHalf(id: NodeId): void {
    const sim = this.sim(id);
    if (sim.pendingReady) {
      this.persistAndApply(sim, sim.pendingReady);
      sim.pendingReady = undefined;
      return;
    }
    if (!sim.node.hasReady()) return;
    const ready = sim.node.ready();
    this.checker.onReady(id, ready);
    for (const message of ready.messages) this.send(message);
    sim.pendingReady = ready;
  }

  private persistAndApply(sim: SimNode, ready: Ready): void {
    if (ready.snapshot) this.installSnapshot(sim, ready.snapshot);
    sim.disk.append(ready.entries);
    if (ready.hardState) sim.disk.setHardState(ready.hardState);
    if (ready.hardState && ready.mustSync) sim.syncedHardState = ready.hardState;
    this.checker.onPersisted(sim.id, ready);
    // Like the server: what waited for this write leaves before applying starts.
    const released = sim.node.persisted();
    this.checker.onSent(released);
    for (const message of released) this.send(message);
    for (const entry of ready.committedEntries) this.apply(sim, entry);
    for (const state of ready.readStates) {
      const context = new TextDecoder().decode(state.context);
      this.checker.onReadServed(sim.id, context, state.index);
    }
    sim.node.advance();
    this.maybeSnapshot(sim);
  }

  private installSnapshot(sim: SimNode, snapshot: Snapshot): void {
    this.checker.snapshotsInstalled++;
    sim.disk.applySnapshot(snapshot);
    sim.machine = decodeMachine(snapshot.data);
    this.checker.onMachineState(sim.id, sim.machine.applied, sim.machine.hash);
  }

  private apply(sim: SimNode, entry: Entry): void {
    if (entry.index <= sim.machine.applied) throw new Error(`node ${sim.id} applied ${entry.index} twice`);
    if (entry.index !== sim.machine.applied + 1) throw new Error(`node ${sim.id} skipped to ${entry.index}`);
    sim.machine = { applied: entry.index, hash: mixHash(sim.machine.hash, entry) };
    this.checker.onApplied(sim.id, entry, sim.machine.hash);
  }

  private maybeSnapshot(sim: SimNode): void {
    const every = this.options.snapshotEvery;
    if (every === 0 || sim.machine.applied - sim.disk.snapshot().meta.index < every) return;
    this.takeSnapshot(sim.id, this.options.snapshotTail);
  }

  /** Snapshots a node's state machine at its applied index and compacts its log, keeping `tail` entries below. */
  takeSnapshot(id: NodeId, tail: number): void {
    const sim = this.sim(id);
    const index = sim.machine.applied;
    sim.disk.createSnapshot(index, sim.node.confState(), encodeMachine(sim.machine));
    sim.disk.compact(Math.max(0, index - tail));
  }

  // --------------------------------------------------------- membership

  addLearner(at: NodeId, id: NodeId): boolean {
    return this.proposeConfChange(at, { type: ConfChangeType.AddLearner, nodeId: id });
  }

  /** Every member (voter or learner) in the configuration of `at`. */
  members(at: NodeId): NodeId[] {
    const conf = this.node(at).confState();
    return [...conf.voters, ...conf.learners];
  }
}

export function range(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);
}

/** FNV-1a over the entry's index, term and payload, chained to the previous state. */
function mixHash(previous: number, entry: Entry): number {
  let hash = (previous ^ 0x811c9dc5) >>> 0;
  const mix = (byte: number) => {
    hash = Math.imul(hash ^ byte, 0x01000193) >>> 0;
  };
  for (const value of [entry.index, entry.term]) for (let shift = 0; shift < 32; shift += 8) mix((value >>> shift) & 0xff);
  for (const byte of entry.data) mix(byte);
  return hash;
}

function encodeMachine(state: MachineState): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(state));
}

function decodeMachine(bytes: Uint8Array): MachineState {
  return JSON.parse(new TextDecoder().decode(bytes)) as MachineState;
}
