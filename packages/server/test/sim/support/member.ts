/**
 * One simulated member: the real Raft host, apply path and KV service, on a
 * WAL over a SimDisk, a store over memory-level and the scheduler's clock.
 * What outlives a crash is its {@link MemberDisks}: the WAL keeps what was
 * fsynced, the store what its last completed write left, and the member list
 * its file. A restart builds the member again from them alone.
 */
import { MemoryLevel } from "memory-level";
import { withoutFiles } from "@raftkv/mvcc";
import { MemoryStorage, MessageType, bootstrapLog, type AppliedConfChange, type Entry, type Message, type NodeId } from "@raftkv/raft";
import { type SimDisk, Wal } from "@raftkv/wal";
import pino from "pino";
import { AlarmRegistry } from "../../../src/alarms.js";
import { tokenProviderFor } from "../../../src/auth/tokens.js";
import { KvStateMachine } from "../../../src/kv/state-machine.js";
import { memberIdOf } from "../../../src/config.js";
import { MemberRegistry, encodeAttributes } from "../../../src/members.js";
import { Metrics } from "../../../src/metrics.js";
import { PeerActivity } from "../../../src/peer-activity.js";
import { ProposalTracker } from "../../../src/proposals.js";
import { RaftHost } from "../../../src/raft-host.js";
import { KvService, leaseProposerThrough } from "../../../src/services/kv.js";
import { MembershipService } from "../../../src/services/membership.js";
import { Proposer } from "../../../src/services/proposer.js";
import { Snapshotter } from "../../../src/snapshots.js";
import { StorageHealth, type StorageFailure } from "../../../src/storage-failure.js";
import type { SimNetwork } from "./network.js";
import type { Scheduler } from "./scheduler.js";

export type Store = MemoryLevel<Uint8Array, Uint8Array>;

/** What a member keeps across crashes. */
export interface MemberDisks {
  readonly wal: SimDisk;
  store: Store;
  /** A directory (on tmpfs where there is one) for the member list and alarms files. */
  readonly dir: string;
}

export interface MemberTiming {
  readonly tickMs: number;
  readonly heartbeatTicks: number;
  readonly electionTicks: number;
  readonly requestTimeoutMs: number;
}

export interface MemberContext {
  readonly scheduler: Scheduler;
  readonly network: SimNetwork;
  readonly timing: MemberTiming;
  /** The members the founding log names; any other member joins through a membership change. */
  readonly founders: readonly NodeId[];
  /** Told of every entry any member applies, before it applies it. */
  readonly onApply: (member: NodeId, entries: readonly Entry[]) => void;
  /** Told when a member has applied a batch, with its state machine as it now is. */
  readonly onApplied: (member: NodeId, stateMachine: KvStateMachine) => void;
  readonly onLeader: (member: NodeId, leader: NodeId, term: number) => void;
  /** Told when the member's storage fails: a power loss in the middle of a write, or a finding. */
  readonly onStorageFailure: (member: NodeId, failure: StorageFailure) => void;
  /** UNSAFE switches (see config.ts), to show the simulation catches what they break. */
  readonly unsafe?: UnsafeSwitches;
}

export interface UnsafeSwitches {
  readonly localReads?: boolean;
  readonly ackBeforeFsync?: boolean;
}

const CLUSTER_ID = 7;
/** What joining members' ids derive from, with their peer URLs (see joinerId). */
const CLUSTER_TOKEN = "sim";
const WAL_DIR = "/wal";
/** As node.ts has it: the leader looks for expired leases every 250 ms. */
const LEADER_TICK_MS = 250;
/**
 * Snapshots come often and the log keeps a short tail below them, so that a
 * member back from a crash or a partition is often sent one.
 */
const SNAPSHOT_EVERY = 40;
const ENTRIES_KEPT = 5;

/** Nothing reads the simulated members' metrics: one set takes every member's counts. */
const METRICS = new Metrics(
  { term: () => 0, isLeader: () => false, commitIndex: () => 0, appliedIndex: () => 0 },
  { alarms: () => [], wasRemoved: () => false, storageFailed: () => false, activePeers: () => 0 },
);

/** The peer URL and id of the simulation's `n`th joining member: ids derive from both, as a real member's do. */
export function joiner(n: number): { readonly peerUrl: string; readonly id: NodeId } {
  const peerUrl = `http://joiner-${n}.sim:2380`;
  return { peerUrl, id: memberIdOf(peerUrl, CLUSTER_TOKEN) };
}

export function newStore(): Store {
  return new MemoryLevel<Uint8Array, Uint8Array>({ keyEncoding: "view", valueEncoding: "view" });
}

export class SimMember {
  private constructor(
    readonly id: NodeId,
    readonly host: RaftHost,
    readonly kv: KvService,
    readonly cluster: MembershipService,
    readonly stateMachine: KvStateMachine,
    /** The members as this one has applied them. */
    readonly registry: MemberRegistry,
    /** Whose timers are this run's: a crash cancels them. */
    private readonly owner: string,
    private readonly disks: MemberDisks,
    private readonly context: MemberContext,
    /** How many power losses the disk had been through when this run started. */
    private readonly crashesBefore: number,
  ) {}

  static async start(id: NodeId, incarnation: number, disks: MemberDisks, context: MemberContext): Promise<SimMember> {
    const { scheduler, network, timing } = context;
    const owner = `member ${id} run ${incarnation}`;
    const crashesBefore = disks.wal.crashes;
    const clock = scheduler.clockFor(owner);
    const logger = pino({ level: "silent" });
    const wal = await Wal.open(WAL_DIR, { fs: disks.wal.mount() });
    const registry = await MemberRegistry.load(disks.dir);
    const alarms = await AlarmRegistry.load(disks.dir);
    const tracker = new ProposalTracker(timing.requestTimeoutMs, clock);
    const activity = new PeerActivity(timing.electionTicks * timing.tickMs, () => clock.now());
    let kv: KvService | undefined;
    const stateMachine = await KvStateMachine.open(withoutFiles(disks.store), {
      tokens: tokenProviderFor("simple", 300),
      registry,
      alarms,
      tracker,
      logger,
      now: () => clock.now(),
      leaseProposer: leaseProposerThrough(() => kv),
    });
    const storage = new MemoryStorage();
    const storageHealth = new StorageHealth();
    storageHealth.onFailure((failure) => context.onStorageFailure(id, failure));
    const snapshotter = await Snapshotter.open({
      dataDir: disks.dir,
      store: stateMachine.store,
      storage,
      wal,
      registry,
      alarms,
      logger,
      storageHealth,
      memberId: id,
      snapshotCount: SNAPSHOT_EVERY,
      retainedEntries: ENTRIES_KEPT,
    });
    await restoreLog(id, storage, wal, snapshotter, context.founders);
    const host: RaftHost = new RaftHost({
      id,
      wal,
      storage,
      applier: {
        get appliedIndex() {
          return stateMachine.appliedIndex;
        },
        apply: (entries: readonly Entry[], confChanges: readonly AppliedConfChange[]) => {
          context.onApply(id, entries);
          return stateMachine.apply(entries, confChanges).then(() => context.onApplied(id, stateMachine));
        },
      },
      snapshots: snapshotter,
      network: { send: (messages) => sendMessages(id, messages, { network, snapshotter, host: () => host }) },
      logger,
      metrics: METRICS,
      ...timing,
      reachable: (peer) => network.connected(id, peer),
      storageHealth,
      clock,
      seed: incarnation * 1000 + id,
      unsafeAckBeforeFsync: context.unsafe?.ackBeforeFsync ?? false,
    });
    const proposer = new Proposer({ host, stateMachine, tracker, registry, clusterId: CLUSTER_ID, memberId: id, clock });
    const cluster = new MembershipService({
      host,
      proposer,
      registry,
      activity,
      strictReconfigCheck: true,
      clusterToken: CLUSTER_TOKEN,
      peerScheme: "http",
    });
    kv = new KvService({
      host,
      stateMachine,
      tracker,
      proposer,
      alarms,
      quota: { admit: () => undefined },
      logger,
      unsafeLocalReads: context.unsafe?.localReads ?? false,
    });
    const service = kv;
    host.onLeaderChange((leader, term) => {
      context.onLeader(id, leader, term);
      service.onLeaderChange(leader);
    });
    clock.setInterval(() => service.tickLeader(clock.now()), LEADER_TICK_MS);
    network.attach(
      id,
      (messages) => {
        for (const message of messages) activity.heard(message.from);
        host.receive(messages);
      },
      async (message, chunks) => {
        await snapshotter.receive(chunks);
        host.receive([message]);
      },
    );
    host.start();
    return new SimMember(id, host, service, cluster, stateMachine, registry, owner, disks, context, crashesBefore);
  }

  /** Whether the power went in the middle of one of this run's writes. */
  get diskCrashed(): boolean {
    return this.disks.wal.crashes > this.crashesBefore;
  }

  /**
   * Arms a power loss just before the disk operation after the next
   * `operations`: in the middle of a WAL save or roll-over (or of the next
   * run's recovery, if a plain crash comes first). The write fails, the
   * member stops taking part, and the simulation calls {@link crash}.
   */
  armCrash(operations: number): void {
    this.disks.wal.crashAfterOperations(operations);
  }

  /**
   * Power loss: the member's timers and connections end at once, its disk
   * keeps only what was fsynced, and its store what was written when the
   * power went (memory-level's snapshot of this instant). What this run
   * still had going fails against the dead disk or goes nowhere.
   */
  async crash(): Promise<void> {
    this.context.scheduler.cancelOwner(this.owner);
    this.context.network.detach(this.id);
    // Unless the power went already, in the middle of one of this run's writes (see armCrash).
    if (!this.diskCrashed) this.disks.wal.crash();
    const store = this.disks.store;
    const atCrash = store.snapshot();
    this.disks.store = newStore();
    await this.disks.store.open();
    const batch = this.disks.store.batch();
    for await (const [key, value] of store.iterator({ snapshot: atCrash })) batch.put(key, value);
    await batch.write();
    await atCrash.close();
  }
}

interface Sending {
  readonly network: SimNetwork;
  readonly snapshotter: Snapshotter;
  readonly host: () => RaftHost;
}

/** As node.ts sends: snapshots each on a connection of their own, so they never hold up the rest. */
function sendMessages(from: NodeId, messages: readonly Message[], { network, snapshotter, host }: Sending): void {
  const transport = { sendSnapshot: (_to: NodeId, message: Message, chunks: AsyncIterable<Uint8Array>) => network.sendSnapshot(from, message, chunks) };
  for (const message of messages) {
    if (message.type !== MessageType.Snap) continue;
    void snapshotter.send(transport, message).then(
      (delivered) => host().snapshotSent(message.to, delivered),
      () => host().snapshotSent(message.to, false),
    );
  }
  network.send(
    from,
    messages.filter((message) => message.type !== MessageType.Snap),
  );
}

/**
 * A founder's first start writes the founding log, a joining member's starts
 * empty and learns everything from the leader; a restart reads the log back
 * from the WAL, after the snapshot it points at (imported into the store if
 * the store is behind it).
 */
async function restoreLog(id: NodeId, storage: MemoryStorage, wal: Wal, snapshotter: Snapshotter, founders: readonly NodeId[]): Promise<void> {
  const recovered = wal.recovered;
  const fresh = recovered.hardState.term === 0 && recovered.entries.length === 0 && !recovered.snapshot;
  if (fresh && !founders.includes(id)) return;
  if (fresh) {
    const log = bootstrapLog(founders.map((id) => ({ id, context: encodeAttributes({ name: `m${id}`, peerUrls: [`sim://${id}`], clientUrls: [] }) })));
    await wal.save({ entries: log.entries, hardState: log.hardState });
    storage.append(log.entries);
    storage.setHardState(log.hardState);
    return;
  }
  const snapshot = await snapshotter.recover(recovered.snapshot);
  if (snapshot) storage.applySnapshot(snapshot);
  storage.append(recovered.entries);
  storage.setHardState(recovered.hardState);
}
