/**
 * A raftkv member: WAL, MVCC store, Raft loop, peer transport and the HTTP
 * APIs, started and stopped as one.
 */
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import {
  EMPTY_HARD_STATE,
  MemoryStorage,
  MessageType,
  bootstrapLog,
  type Entry,
  type HardState,
  type Message,
  type NodeId,
  type SnapshotMeta,
} from "@raftkv/raft";
import { AutoCompactor } from "@raftkv/mvcc";
import { Transport, isPeerDown, isRemovalRefusal } from "@raftkv/transport";
import { Wal } from "@raftkv/wal";
import type { Logger } from "pino";
import { AlarmRegistry } from "./alarms.js";
import { sleep, systemClock, type Clock } from "./clock.js";
import {
  TICK_MS,
  clusterIdOf,
  effectiveQuotaBytes,
  memberIdOf,
  parseAutoCompaction,
  parseUrl,
  servesClientTls,
  servesPeerTls,
  type NodeConfig,
} from "./config.js";
import { ClientTls } from "./http/tls.js";
import { CorruptionCheck } from "./corruption-check.js";
import { KvStateMachine } from "./kv/state-machine.js";
import { etcdError } from "./errors.js";
import { createLogger } from "./logger.js";
import { MemberRegistry, encodeAttributes, type Member } from "./members.js";
import { Metrics } from "./metrics.js";
import { PeerActivity } from "./peer-activity.js";
import { PeerCertificateFiles } from "./peer-tls.js";
import { ProposalTracker } from "./proposals.js";
import { RaftHost } from "./raft-host.js";
import { tokenProviderFor } from "./auth/tokens.js";
import { AuthService } from "./services/auth.js";
import { HealthService } from "./services/health.js";
import { KvService, leaseProposerThrough } from "./services/kv.js";
import { MaintenanceService } from "./services/maintenance.js";
import { MembershipService } from "./services/membership.js";
import { Proposer } from "./services/proposer.js";
import { Snapshotter } from "./snapshots.js";
import { memberSpaceQuota } from "./space-quota.js";
import { StorageHealth, type StorageFailure } from "./storage-failure.js";

export interface StartOptions {
  /** A logger to use instead of the default (pino, pretty on a terminal). */
  readonly logger?: Logger;
  /** Time and timers for the member's loop and services; the system's unless given. */
  readonly clock?: Clock;
}

export interface RaftkvNode {
  readonly name: string;
  readonly memberId: number;
  readonly clusterId: number;
  /** The client URLs the HTTP server listens on, with the ports actually bound. */
  readonly clientUrls: readonly string[];
  /** Resolves if this member's storage fails: it then serves only to say so (see storage-failure.ts). */
  readonly storageFailed: Promise<StorageFailure>;
  /**
   * Stops the member. With `transferLeadership` (the SIGTERM path), a leader
   * first hands leadership to the most caught-up voter.
   */
  stop(options?: { transferLeadership?: boolean }): Promise<void>;
}

const REQUEST_TIMEOUT_MS = 7_000;
/** How often the leader looks for expired leases and due compactions. */
const LEADER_TICK_MS = 250;
/** How long a peer may take to give its hash to the corruption check. */
const HASH_TIMEOUT_MS = 2_000;

interface DurableLog {
  readonly hardState: HardState;
  readonly entries: readonly Entry[];
  readonly snapshot: SnapshotMeta | undefined;
}

export async function startNode(config: NodeConfig, options: StartOptions = {}): Promise<RaftkvNode> {
  await mkdir(config.dataDir, { recursive: true });
  // Before anything else: a member whose certificate cannot be used does not start.
  const clientTls = servesClientTls(config) ? await ClientTls.load(config, config.dataDir) : undefined;
  const peerTls = servesPeerTls(config) ? await PeerCertificateFiles.load(config, config.dataDir) : undefined;
  const peerUrl = config.initialAdvertisePeerUrls[0] ?? config.listenPeerUrls[0] ?? "";
  const memberId = memberIdOf(peerUrl, config.initialClusterToken);
  const clusterId = clusterIdOf(config.initialClusterToken);
  let host: RaftHost | undefined;
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? createLogger(config.logLevel, { name: config.name, memberId, term: () => host?.term ?? 0 });

  const wal = await Wal.open(join(config.dataDir, "wal"));
  const registry = await MemberRegistry.load(config.dataDir);
  const alarms = await AlarmRegistry.load(config.dataDir);
  const tracker = new ProposalTracker(REQUEST_TIMEOUT_MS, clock);
  const storageHealth = new StorageHealth();
  let service: KvService | undefined;
  const tokens = tokenProviderFor(config.authToken, config.authTokenTtlSeconds);
  const stateMachine = await KvStateMachine.open(join(config.dataDir, "kv"), {
    tokens,
    registry,
    alarms,
    tracker,
    logger,
    now: () => clock.now(),
    leaseProposer: leaseProposerThrough(() => service),
  });
  const storage = new MemoryStorage();
  const snapshotter = await Snapshotter.open({
    dataDir: config.dataDir,
    store: stateMachine.store,
    storage,
    wal,
    registry,
    alarms,
    logger,
    storageHealth,
    memberId,
    snapshotCount: config.snapshotCount,
    retainedEntries: config.snapshotCatchUpEntries,
  });
  await restoreLog(storage, wal, registry, snapshotter, config);
  const activity = new PeerActivity(config.electionTimeoutMs);
  const metrics = new Metrics(
    {
      term: () => host?.term ?? 0,
      isLeader: () => host?.isLeader ?? false,
      commitIndex: () => host?.status().hardState.commit ?? 0,
      appliedIndex: () => stateMachine.appliedIndex,
    },
    {
      alarms: () => alarms.list(),
      wasRemoved: () => registry.wasRemoved(memberId),
      storageFailed: () => storageHealth.failure !== undefined,
      activePeers: () => registry.list().filter((member) => member.id !== memberId && activity.isActive(member.id)).length,
    },
  );

  const transport = new Transport({
    clusterId,
    memberId,
    listen: parseUrl(config.listenPeerUrls[0] ?? peerUrl),
    peers: peerAddresses(registry.list()),
    logger,
    ...(peerTls ? { tls: peerTls.tls } : {}),
    wasRemoved: (peer) => registry.wasRemoved(peer),
    onMessages: (messages, from) => {
      activity.heard(from);
      host?.receive(messages);
    },
    onSnapshot: async (_from, message, chunks) => {
      await snapshotter.receive(chunks);
      host?.receive([message]);
    },
    onPeerConnected: (peer) => host?.peerConnected(peer),
    onPeerUnreachable: (peer, failure) => {
      if (isRemovalRefusal(failure)) return learnRemovalFrom(peer);
      return isPeerDown(failure) ? host?.peerLost(peer) : host?.peerUnreachable(peer);
    },
  });
  const stopWatchingPeerCertificates = peerTls?.watch(transport, logger);
  registry.onChange(() => syncPeers(transport, registry, { self: memberId, leader: host?.leader ?? 0, leaderGraceMs: 2 * config.electionTimeoutMs }));

  host = new RaftHost({
    id: memberId,
    wal,
    storage,
    applier: stateMachine,
    snapshots: snapshotter,
    network: { send: (messages) => sendMessages(messages) },
    logger,
    metrics,
    tickMs: TICK_MS,
    heartbeatTicks: Math.round(config.heartbeatIntervalMs / TICK_MS),
    electionTicks: Math.round(config.electionTimeoutMs / TICK_MS),
    requestTimeoutMs: REQUEST_TIMEOUT_MS,
    reachable: (peer) => transport.stats().peers.get(peer)?.connected === true,
    storageHealth,
    unsafeAckBeforeFsync: config.unsafe.includes("ack-before-fsync"),
    unsafeCommitAnyTerm: config.unsafe.includes("commit-any-term"),
    clock,
  });
  const raft = host;
  const sendMessages = (messages: readonly Message[]) => {
    // Snapshots travel on their own connection, so they never hold up heartbeats.
    for (const message of messages) {
      if (message.type !== MessageType.Snap) continue;
      void snapshotter.send(transport, message).then(
        (delivered) => raft.snapshotSent(message.to, delivered),
        () => raft.snapshotSent(message.to, false),
      );
    }
    transport.send(messages.filter((message) => message.type !== MessageType.Snap));
  };
  const proposer = new Proposer({ host: raft, stateMachine, tracker, registry, clusterId, memberId, clock });
  const quota = memberSpaceQuota(
    { memberId, dataDir: config.dataDir, store: stateMachine.store, alarms, proposer, logger },
    { quotaBytes: effectiveQuotaBytes(config.quotaBackendBytes), reserveBytes: config.walReserveBytes },
  );
  service = new KvService({
    host: raft,
    stateMachine,
    tracker,
    proposer,
    alarms,
    quota,
    logger,
    ...autoCompactorFor(config),
    unsafeLocalReads: config.unsafe.includes("local-reads"),
  });
  const kv = service;
  const cluster = new MembershipService({
    host: raft,
    proposer,
    registry,
    activity,
    strictReconfigCheck: config.strictReconfigCheck,
    clusterToken: config.initialClusterToken,
    peerScheme: peerTls ? "https" : "http",
  });
  const maintenance = new MaintenanceService({
    host: raft,
    stateMachine,
    proposer,
    registry,
    alarms,
    snapshots: snapshotter,
    logger,
    quota,
    storageFailure: () => storageHealth.reason,
  });
  const health = new HealthService({ host: raft, stateMachine, proposer, alarms, storageHealth });
  raft.onLeaderChange((leader) => kv.onLeaderChange(leader));
  const leaderTicker = clock.setInterval(() => kv.tickLeader(clock.now()), LEADER_TICK_MS);
  const corruption = new CorruptionCheck({
    memberId,
    registry,
    store: stateMachine.store,
    logger,
    peerTimeoutMs: HASH_TIMEOUT_MS,
    raise: (corrupt) => maintenance.raiseCorruptAlarms(corrupt),
  });
  const stopTimers = (): void => {
    clock.clearInterval(leaderTicker);
    corruption.stop();
    quota.stop();
  };

  let leaving: Promise<void> | undefined;
  registry.onRemoved((id) => {
    if (id === memberId) leaving ??= leaveUnlessAddedBack();
  });
  /**
   * Ids come from peer URLs, so a member added back at its old URL replays
   * its own earlier removal while it catches up from the log. It leaves only
   * if, an election timeout later and with everything it knows committed
   * applied, it is still removed.
   */
  async function leaveUnlessAddedBack(): Promise<void> {
    await sleep(clock, raft.electionTimeoutMs);
    // Asked again after each batch applied: the state machine's index moves before the raft core hears of it.
    const caughtUp = (): boolean => stateMachine.appliedIndex >= raft.status().hardState.commit;
    await raft.until(caughtUp, raft.requestTimeoutMs).catch(() => undefined);
    if (registry.wasRemoved(memberId)) return stopTakingPart({ raft, transport, tracker, logger, stopTimers });
    logger.info("this member applied its earlier removal and then its addition back: it stays");
    leaving = undefined;
  }
  /** A peer refused us as removed: it applied our removal, so the removal is committed. */
  function learnRemovalFrom(peer: number): void {
    if (registry.wasRemoved(memberId)) return;
    logger.warn({ peer }, "a peer says this member was removed from the cluster");
    void registry.remove(memberId);
  }

  const storageFailed = new Promise<StorageFailure>((resolve) => storageHealth.onFailure(resolve));
  let failedOut: Promise<void> | undefined;
  storageHealth.onFailure((failure) => {
    logger.fatal({ err: failure.error, part: failure.where }, "storage failed: this member acknowledges nothing more and stops taking part");
    failedOut = stopTakingPartAtOnce();
  });
  /** Peers see the connection go and elect another leader early; what waits here fails now rather than at its timeout. */
  async function stopTakingPartAtOnce(): Promise<void> {
    stopTimers();
    await stopRaftAndPeers({ raft, tracker, transport });
  }

  const auth = new AuthService({ stateMachine, host: raft, proposer, tokens, bcryptCost: config.bcryptCost });
  const removedEarlier = registry.wasRemoved(memberId);
  if (removedEarlier) {
    logger.warn("this member was removed from the cluster before it stopped: it serves only its status");
  } else {
    // Before anything moves: the store stays at one revision while it is compared.
    if (config.initialCorruptCheck) await corruption.atStartUp();
    // Raft first, the HTTP APIs after (see client-api.ts): a restarted member
    // that votes and acknowledges appends gives its cluster back a quorum
    // before it serves clients.
    await transport.start();
    raft.start();
    await quota.start();
    if (config.corruptCheckIntervalMs > 0) corruption.startPeriodic(config.corruptCheckIntervalMs, () => raft.isLeader);
  }
  const clients = await (await import("./client-api.js")).serveClients(
    { kv, cluster, maintenance, health, auth },
    { raft, metrics, listenUrls: config.listenClientUrls, tls: clientTls, logger },
  );
  const clientUrls = [...config.listenClientUrls];
  // Imported here, like client-api.js: it brings fastify, which a member has no use for before Raft runs.
  const metricsApp = await (await import("./http/metrics-listener.js")).listenForMetrics(config.listenMetricsUrls, health, metrics);
  // Imported only where configured: most members serve no DNS.
  const dns =
    config.dnsAddr === ""
      ? undefined
      : await (await import("./dns/index.js")).startDns(config, {
          api: kv,
          cluster: { self: memberId, leader: () => raft.leader, lastHeardAt: (peer) => activity.lastHeardAt(peer) },
          onLeaderChange: (listener) => raft.onLeaderChange(listener),
          metrics: metrics.registry,
          logger,
        });
  if (!removedEarlier) cluster.publish(config.name, config.advertiseClientUrls);
  logger.info({ memberId, clusterId, clientUrls, peerUrl }, "raftkv member started");
  if (config.unsafe.length > 0) logger.warn({ unsafe: config.unsafe }, "UNSAFE test behaviours are on: this member may lose or misreport data");

  return {
    name: config.name,
    memberId,
    clusterId,
    clientUrls,
    storageFailed,
    async stop({ transferLeadership = false } = {}) {
      if (transferLeadership) await maintenance.handOffLeadership();
      stopTimers();
      clientTls?.stop();
      stopWatchingPeerCertificates?.();
      await leaving;
      await failedOut;
      await dns?.close();
      await clients.close();
      await metricsApp?.close();
      await stopRaftAndPeers({ raft, tracker, transport });
      await stateMachine.close();
      await wal.close();
      logger.info("raftkv member stopped");
      logger.flush();
    },
  };
}

interface Participation {
  readonly raft: RaftHost;
  readonly transport: Transport;
  readonly tracker: ProposalTracker;
  readonly logger: Logger;
  readonly stopTimers: () => void;
}

/**
 * A removed member stops taking part: no Raft, no peer traffic, so it can
 * neither campaign nor disrupt; its HTTP server stays up to say why. A
 * removed leader first leads on until it has handed over (the raft core
 * transfers leadership, or steps down when no voter answers it any more).
 */
async function stopTakingPart({ raft, transport, tracker, logger, stopTimers }: Participation): Promise<void> {
  logger.warn("this member was removed from the cluster: it stops taking part (its data directory is no longer needed)");
  // A leader's hand-over ends in a change of leader, which the condition is asked again at; past the deadline it stops anyway.
  await raft.until(() => !raft.isLeader, 2 * raft.electionTimeoutMs).catch(() => undefined);
  stopTimers();
  await stopRaftAndPeers({ raft, tracker, transport });
}

/** Both ways out of the cluster, stopping and being removed, answer what still waits as etcd does. */
async function stopRaftAndPeers({ raft, tracker, transport }: Pick<Participation, "raft" | "tracker" | "transport">): Promise<void> {
  await raft.stop();
  tracker.rejectAll(etcdError("stopped"));
  await transport.stop();
}

/**
 * Rebuilds the in-memory log from the WAL (and the snapshot it points at). A
 * brand-new founding member writes the founding log first; a member joining
 * an existing cluster starts empty and learns everything from the leader.
 */
async function restoreLog(storage: MemoryStorage, wal: Wal, registry: MemberRegistry, snapshotter: Snapshotter, config: NodeConfig): Promise<void> {
  const recovered = wal.recovered;
  const fresh = recovered.hardState.term === 0 && recovered.entries.length === 0 && !recovered.snapshot;
  const state = fresh ? await foundOrJoin(wal, registry, config) : recovered;
  const snapshot = await snapshotter.recover(state.snapshot);
  if (snapshot) storage.applySnapshot(snapshot);
  storage.append(state.entries);
  storage.setHardState(state.hardState);
}

async function foundOrJoin(wal: Wal, registry: MemberRegistry, config: NodeConfig): Promise<DurableLog> {
  const founders = [...config.initialCluster].map(([name, url]) => ({
    id: memberIdOf(url, config.initialClusterToken),
    attributes: { name, peerUrls: [url], clientUrls: [] as string[] },
  }));
  // Until the log says otherwise, these are the peers to talk to.
  for (const founder of founders) await registry.add(founder.id, founder.attributes, false);
  if (config.initialClusterState !== "new") return { hardState: EMPTY_HARD_STATE, entries: [], snapshot: undefined };
  const log = bootstrapLog(founders.map((founder) => ({ id: founder.id, context: encodeAttributes(founder.attributes) })));
  await wal.save({ entries: log.entries, hardState: log.hardState });
  return { ...log, snapshot: undefined };
}

function autoCompactorFor(config: NodeConfig): { autoCompactor?: AutoCompactor } {
  const policy = parseAutoCompaction(config.autoCompactionMode, config.autoCompactionRetention);
  return policy ? { autoCompactor: new AutoCompactor(policy) } : {};
}

function peerAddresses(members: readonly Member[]): Map<NodeId, { host: string; port: number }> {
  const addresses = new Map<NodeId, { host: string; port: number }>();
  for (const member of members) {
    const url = member.peerUrls[0];
    if (url) addresses.set(member.id, parseUrl(url));
  }
  return addresses;
}

/**
 * Makes the transport's peers the registry's members. A removed leader is
 * still heard for a while: it leads on until it has handed leadership over
 * (see the raft core), and its hand-over must reach the successor, so cutting
 * it off at once would cost the cluster an election timeout.
 */
interface PeerSync {
  readonly self: NodeId;
  /** The leader when the change was applied. */
  readonly leader: NodeId;
  /** How long a removed leader is still heard. */
  readonly leaderGraceMs: number;
}

function syncPeers(transport: Transport, registry: MemberRegistry, { self, leader, leaderGraceMs }: PeerSync): void {
  const wanted = peerAddresses(registry.list().filter((member) => member.id !== self));
  const known = transport.stats().peers;
  for (const [id, address] of wanted) transport.addPeer(id, address);
  for (const id of known.keys()) {
    if (wanted.has(id)) continue;
    if (id !== leader) transport.removePeer(id);
    else {
      setTimeout(() => {
        if (registry.get(id) === undefined) transport.removePeer(id);
      }, leaderGraceMs).unref();
    }
  }
}
