/**
 * The member's real services over a stand-in for Raft: one member that leads
 * alone and applies each proposal at once to a real store, registry and
 * alarm list in a temporary directory. Routes tested against it run the
 * real decoders, services and encoders in milliseconds.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  ConfChangeType,
  EntryType,
  ProgressState,
  Role,
  applyConfChange,
  encodeConfChange,
  type ConfChange,
  type ConfState,
  type Entry,
  type Status,
} from "@raftkv/raft";
import type { FastifyInstance } from "fastify";
import type { AddressInfo } from "node:net";
import pino from "pino";
import { AlarmRegistry } from "../../src/alarms.js";
import { etcdError } from "../../src/errors.js";
import { createApp } from "../../src/http/app.js";
import type { MemberApis } from "../../src/kv/api.js";
import { KvStateMachine } from "../../src/kv/state-machine.js";
import { MemberRegistry, encodeAttributes } from "../../src/members.js";
import { Metrics } from "../../src/metrics.js";
import { PeerActivity } from "../../src/peer-activity.js";
import { ProposalTracker } from "../../src/proposals.js";
import { MIN_BCRYPT_COST } from "../../src/auth/password.js";
import { SimpleTokens } from "../../src/auth/tokens.js";
import { AuthService } from "../../src/services/auth.js";
import { KvService, leaseProposerThrough } from "../../src/services/kv.js";
import { MaintenanceService } from "../../src/services/maintenance.js";
import { MembershipService } from "../../src/services/membership.js";
import { Proposer } from "../../src/services/proposer.js";
import { memberSpaceQuota } from "../../src/space-quota.js";

export const MEMBER_ID = 1;
export const CLUSTER_ID = 77;
const SNAPSHOT_BYTES = Uint8Array.of(1, 2, 3);

/** A Raft host of one member that leads alone: what is proposed is committed and applied at once, in order. */
export class OneMemberRaft {
  leader = MEMBER_ID;
  readonly term = 1;
  readonly requestTimeoutMs = 2_000;
  readonly electionTimeoutMs = 1_000;
  private lastIndex = 0;
  private conf: ConfState = { voters: [], learners: [] };
  private applying: Promise<void> = Promise.resolve();

  constructor(private readonly machine: KvStateMachine) {}

  get isLeader(): boolean {
    return this.leader === MEMBER_ID;
  }

  propose(data: readonly Uint8Array[]): { index: number; term: number } {
    const entries = data.map((bytes) => this.entry(EntryType.Normal, bytes));
    this.applying = this.applying.then(() => this.machine.apply(entries, []));
    return { index: this.lastIndex, term: this.term };
  }

  proposeConfChange(change: ConfChange): { index: number; term: number } {
    const entry = this.entry(EntryType.ConfChange, encodeConfChange(change));
    this.conf = applyConfChange(this.conf, change);
    const applied = { index: entry.index, change, conf: this.conf };
    this.applying = this.applying.then(() => this.machine.apply([entry], [applied]));
    return { index: entry.index, term: this.term };
  }

  /** A lone member always knows its leader: itself, or the one it handed over to. */
  async whenLeaderKnown(): Promise<void> {}

  async readBarrier(): Promise<void> {
    await this.applying;
  }

  /** Here nothing changes but by proposing, so what holds once the proposals are applied holds for good. */
  async until(condition: () => boolean): Promise<void> {
    await this.applying;
    if (!condition()) throw etcdError("timeout");
  }

  /** Once the proposals so far are applied (the routes' tests propose nothing meanwhile). */
  async atApplyBoundary<T>(capture: (appliedIndex: number, conf: ConfState) => T): Promise<T> {
    await this.applying;
    return capture(this.machine.appliedIndex, this.conf);
  }

  transferLeadership(to: number): void {
    this.leader = to;
  }

  status(): Status {
    const match = { match: this.lastIndex, next: this.lastIndex + 1, state: ProgressState.Replicate };
    const members = [...this.conf.voters, ...this.conf.learners];
    return {
      id: MEMBER_ID,
      hardState: { term: this.term, vote: MEMBER_ID, commit: this.lastIndex },
      applied: this.lastIndex,
      lastIndex: this.lastIndex,
      lead: this.leader,
      role: this.isLeader ? Role.Leader : Role.Follower,
      conf: this.conf,
      leadTransferee: 0,
      progress: new Map(members.map((id) => [id, match])),
    };
  }

  private entry(type: EntryType, data: Uint8Array): Entry {
    return { term: this.term, index: ++this.lastIndex, type, data };
  }
}

export interface ServicesFixture extends MemberApis {
  readonly raft: OneMemberRaft;
  readonly auth: AuthService;
  close(): Promise<void>;
}

/** The services of a one-member cluster whose member, MEMBER_ID, has the given voters besides itself. */
export async function oneMemberServices(otherVoters: readonly { id: number; clientUrl: string }[] = []): Promise<ServicesFixture> {
  const dir = await mkdtemp(join(tmpdir(), "raftkv-services-"));
  const logger = pino({ level: "silent" });
  const registry = await MemberRegistry.load(dir);
  const alarms = await AlarmRegistry.load(dir);
  const tracker = new ProposalTracker(2_000);
  let kv: KvService | undefined;
  const tokens = new SimpleTokens(60_000);
  const stateMachine = await KvStateMachine.open(join(dir, "kv"), {
    tokens,
    registry,
    alarms,
    tracker,
    logger,
    leaseProposer: leaseProposerThrough(() => kv),
  });
  const raft = new OneMemberRaft(stateMachine);
  for (const member of [{ id: MEMBER_ID, clientUrl: "http://127.0.0.1:1" }, ...otherVoters]) {
    const attributes = { name: `m${member.id}`, peerUrls: [`http://peer-${member.id}`], clientUrls: [member.clientUrl] };
    raft.proposeConfChange({ type: ConfChangeType.AddNode, nodeId: member.id, context: encodeAttributes(attributes) });
  }
  await raft.readBarrier();
  const proposer = new Proposer({ host: raft, stateMachine, tracker, registry, clusterId: CLUSTER_ID, memberId: MEMBER_ID });
  const quota = memberSpaceQuota(
    { memberId: MEMBER_ID, dataDir: dir, store: stateMachine.store, alarms, proposer, logger },
    { quotaBytes: Infinity, reserveBytes: 0 },
  );
  kv = new KvService({ host: raft, stateMachine, tracker, proposer, alarms, quota, logger });
  const cluster = new MembershipService({
    host: raft,
    proposer,
    registry,
    activity: new PeerActivity(1_000),
    strictReconfigCheck: false,
    clusterToken: "test",
    peerScheme: "http",
  });
  const snapshots = {
    backup: async () => ({
      size: SNAPSHOT_BYTES.byteLength,
      bytes: (async function* () {
        yield SNAPSHOT_BYTES;
      })(),
    }),
  };
  const noStorageFailure = () => undefined;
  const maintenance = new MaintenanceService({
    host: raft,
    stateMachine,
    proposer,
    registry,
    alarms,
    snapshots,
    logger,
    quota,
    storageFailure: noStorageFailure,
  });
  // The cheapest hash cost: these tests are about the rules, not the hash.
  const auth = new AuthService({ stateMachine, host: raft, proposer, tokens, bcryptCost: MIN_BCRYPT_COST });
  return {
    kv,
    cluster,
    maintenance,
    raft,
    auth,
    async close() {
      tracker.rejectAll(new Error("closed"));
      await stateMachine.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A JSON reply, read field by field. */
// biome-ignore lint/suspicious/noExplicitAny: a JSON reply, read field by field
export type Json = Record<string, any>;

/** The member's HTTP app with one API plugin, listening on a free local port (streams need a socket: see the route tests). */
export async function appWith(plugin: (app: FastifyInstance) => Promise<void>): Promise<FastifyInstance> {
  const metrics = new Metrics(
    { term: () => 1, isLeader: () => true, commitIndex: () => 0, appliedIndex: () => 0 },
    { alarms: () => [], wasRemoved: () => false, storageFailed: () => false, activePeers: () => 0 },
  );
  const app = createApp(metrics);
  await app.register(plugin);
  await app.listen({ host: "127.0.0.1", port: 0 });
  return app;
}

export function urlOf(app: FastifyInstance): string {
  return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
}
