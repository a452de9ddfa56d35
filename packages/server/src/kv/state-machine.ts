/**
 * The apply step: committed entries become one MVCC batch; their results
 * settle the callers waiting on this member, their events go to watchers,
 * and lease changes move the lease deadlines. The member registry takes the
 * membership changes the raft core took in, after it took them in.
 *
 * The registry and the alarms live in files beside the store, so no write
 * covers both. They take a batch's effects before the store records the
 * batch as applied: a crash between the two makes start-up apply the batch
 * again, and each effect taken twice in log order ends where it ended once
 * (they set, never count). In the other order the crash lost them for good:
 * the store said applied, and nothing replayed a member's addition.
 */
import { rm } from "node:fs/promises";
import {
  MvccStore,
  StoreUnavailableError,
  renewedSince,
  type StoreDatabase,
  type ApplyResult,
  type FirstOutcome,
  type LogEntry,
  type Request,
} from "@raftkv/mvcc";
import { ConfChangeType, EntryType, type AppliedConfChange, type ConfChange, type Entry } from "@raftkv/raft";
import type { Logger } from "pino";
import type { AlarmMember, AlarmRegistry } from "../alarms.js";
import type { AuthCommand } from "../auth/state.js";
import { AuthStore, type AuthEntry, type AuthOutcome } from "../auth/store.js";
import type { TokenProvider } from "../auth/tokens.js";
import { decodeCommand, type CommandEnvelope } from "../commands.js";
import { RaftkvError, etcdError } from "../errors.js";
import { decodeAttributes, type MemberRegistry } from "../members.js";
import type { ProposalTracker } from "../proposals.js";
import { LeaseKeeper, type LeaseProposer } from "./lease-keeper.js";
import { NOSPACE_RECORD, capForSpace, decodeHolding, type CapDecision, type CapEntry } from "./space-cap.js";
import { WatchHub } from "./watch-hub.js";

/** What the log carries besides membership changes. */
export type Command =
  | { readonly kind: "store"; readonly request: Request }
  /** A member announces its name and the client URLs it serves on (etcd's "publish"). */
  | { readonly kind: "publish"; readonly memberId: number; readonly name: string; readonly clientUrls: readonly string[] }
  | { readonly kind: "update-member"; readonly memberId: number; readonly peerUrls: readonly string[] }
  /** etcd's AlarmRequest: raises or clears an alarm on every member. */
  | { readonly kind: "alarm"; readonly action: "activate" | "deactivate"; readonly alarm: AlarmMember }
  /** A change to users, roles or auth itself, or an authentication (see auth/). */
  | { readonly kind: "auth"; readonly command: AuthCommand };

export interface StateMachineOptions {
  readonly registry: MemberRegistry;
  readonly alarms: AlarmRegistry;
  readonly tracker: ProposalTracker;
  readonly logger: Logger;
  readonly leaseProposer: LeaseProposer;
  readonly tokens: TokenProvider;
  /** The member's clock, in milliseconds, for lease deadlines (the system's when not given). */
  readonly now?: () => number;
}

interface Decoded {
  readonly entry: Entry;
  readonly envelope?: CommandEnvelope<Command>;
}

export class KvStateMachine {
  readonly watchHub = new WatchHub();
  readonly leases: LeaseKeeper;
  readonly auth: AuthStore;

  private constructor(
    readonly store: MvccStore,
    private readonly options: StateMachineOptions,
  ) {
    this.leases = new LeaseKeeper(options.leaseProposer, options.now);
    this.auth = new AuthStore(store, options.tokens);
  }

  /** Opens the store in a directory, or over the database given (a simulated member's). */
  static async open(location: string | StoreDatabase, options: StateMachineOptions): Promise<KvStateMachine> {
    const store = await openStore(location, options.logger);
    const machine = new KvStateMachine(store, options);
    machine.leases.resume(store.leases(), store.appliedIndex);
    return machine;
  }

  get appliedIndex(): number {
    return this.store.appliedIndex;
  }

  /**
   * Applies entries in log order: first their effects outside the store (see
   * the top of this file), then the store's batch, then the answers. Of the
   * membership changes, the registry takes those the raft core says take
   * effect, and only those.
   */
  async apply(entries: readonly Entry[], confChanges: readonly AppliedConfChange[]): Promise<void> {
    const decoded = entries.map((entry) => this.decode(entry));
    const fresh = decoded.filter((item) => item.entry.index > this.store.appliedIndex);
    // Read before the alarms take this batch's changes below: the cap folds those in, in log order.
    const holding = this.holdingNoSpace();
    const outside = await this.applyOutsideStore(fresh, confChanges);
    const auth = this.auth.prepare(fresh.map(authEntryOf));
    const cap = capForSpace(holding, fresh.map(capEntryOf));
    const logEntries = decoded.map((item) => toLogEntry(item, auth.get(item.entry.index), cap));
    const results = await this.store.applyBatch(logEntries, { prevKvInEvents: () => this.watchHub.wantsPrevKv });
    for (let i = 0; i < decoded.length; i++) {
      const item = decoded[i] as Decoded;
      const index = item.entry.index;
      const authOutcome = auth.get(index);
      if (outside.has(index)) this.settleOutside(item, outside.get(index));
      else if (authOutcome && item.envelope) this.settleAuth(item.envelope.requestId, authOutcome);
      else if (cap.refused.has(index) && item.envelope) this.options.tracker.reject(item.envelope.requestId, etcdError("noSpace"));
      else this.afterApply(item, results[i] as ApplyResult);
    }
    const last = entries[entries.length - 1];
    if (last) this.leases.caughtUpTo(last.index);
  }

  async close(): Promise<void> {
    await this.store.close();
  }

  /**
   * The members holding NOSPACE as of the store's applied index. A store
   * without the record never had one raised: the alarms file is no witness,
   * since it takes a batch's changes before the store does.
   */
  private holdingNoSpace(): number[] {
    return decodeHolding(this.store.sideRecord(NOSPACE_RECORD)) ?? [];
  }

  private decode(entry: Entry): Decoded {
    if (entry.type !== EntryType.Normal || entry.data.byteLength === 0) return { entry };
    return { entry, envelope: decodeCommand<Command>(entry.data) };
  }

  /**
   * The effects on the member registry and the alarms, in log order (a
   * member's announcement of its name follows the change that added it).
   * Answers each affected entry's index with what its proposer is told.
   */
  private async applyOutsideStore(fresh: readonly Decoded[], confChanges: readonly AppliedConfChange[]): Promise<Map<number, unknown>> {
    const taken = new Map(confChanges.map((confChange) => [confChange.index, confChange.change]));
    const answers = new Map<number, unknown>();
    for (const item of fresh) {
      const change = taken.get(item.entry.index);
      const command = item.envelope?.command;
      if (change) answers.set(item.entry.index, await this.applyMembership(change));
      else if (command && command.kind !== "store" && command.kind !== "auth") answers.set(item.entry.index, await this.applyOutside(command));
    }
    return answers;
  }

  private async applyOutside(command: Exclude<Command, { kind: "store" | "auth" }>): Promise<unknown> {
    const { registry, alarms } = this.options;
    switch (command.kind) {
      case "publish":
        return registry.update(command.memberId, { name: command.name, clientUrls: command.clientUrls });
      case "update-member":
        return registry.update(command.memberId, { peerUrls: command.peerUrls });
      case "alarm":
        return command.action === "activate" ? alarms.activate(command.alarm) : alarms.deactivate(command.alarm);
    }
  }

  private settleOutside(item: Decoded, answer: unknown): void {
    if (item.envelope) this.options.tracker.resolve(item.envelope.requestId, answer);
  }

  private afterApply(item: Decoded, result: ApplyResult): void {
    const envelope = item.envelope;
    if (!envelope) return;
    const { command, requestId } = envelope;
    // Every other command was answered by settleOutside or settleAuth, or is a replay nobody waits for.
    if (command.kind !== "store") return;
    if (result.status === "duplicate") return this.settle(requestId, result.first);
    if (result.status === "ignored") return;
    if (result.status === "applied") {
      this.trackLeases(command.request, result);
      this.watchHub.publish(result.events, result.response.revision);
    }
    this.settle(requestId, result);
  }

  /** An auth command's result, or a write refused because auth changed after its permissions were checked. */
  private settleAuth(requestId: string, outcome: AuthOutcome): void {
    if (outcome.status === "applied") this.options.tracker.resolve(requestId, outcome.result);
    else this.options.tracker.reject(requestId, outcome.error);
  }

  /** Answers the caller waiting on this member, if any, with a result or a retry's first outcome. */
  private settle(requestId: string, outcome: FirstOutcome): void {
    if (outcome.status === "applied") this.options.tracker.resolve(requestId, outcome.response);
    else this.options.tracker.reject(requestId, new RaftkvError(outcome.error.grpcCode, outcome.error.message));
  }

  /** The deadlines follow what the store did: a revoke or checkpoint it skipped for a later renewal changes nothing here. */
  private trackLeases(request: Request, result: Extract<ApplyResult, { status: "applied" }>): void {
    const response = result.response;
    if (request.op === "leaseGrant" && response.op === "leaseGrant") this.leases.extend(response.id, response.ttl);
    else if (request.op === "leaseRenew" && response.op === "leaseRenew") this.leases.extend(request.id, response.ttl);
    else if (request.op === "leaseRevoke" && this.store.lease(request.id) === undefined) this.leases.forget(request.id);
    else if (request.op === "leaseCheckpoint") {
      for (const checkpoint of request.checkpoints) {
        const lease = this.store.lease(checkpoint.id);
        if (lease !== undefined && !renewedSince(lease, request.asOf)) this.leases.extend(checkpoint.id, checkpoint.remainingTtl);
      }
    }
  }

  private async applyMembership(change: ConfChange): Promise<void> {
    const registry = this.options.registry;
    switch (change.type) {
      case ConfChangeType.AddNode:
      case ConfChangeType.AddLearner:
        return registry.add(change.nodeId, decodeAttributes(change.context), change.type === ConfChangeType.AddLearner);
      case ConfChangeType.PromoteLearner:
        return registry.promote(change.nodeId);
      case ConfChangeType.RemoveNode:
        this.options.logger.info({ removed: change.nodeId }, "member removed from the cluster");
        return registry.remove(change.nodeId);
    }
  }
}

/**
 * Opens the store. One in a directory that a crash left half-imported is started empty: the
 * WAL's snapshot marker, written before every import, makes start-up import
 * the snapshot file again (see Snapshotter.recover).
 */
async function openStore(location: string | StoreDatabase, logger: Logger): Promise<MvccStore> {
  try {
    return await MvccStore.open(location);
  } catch (error) {
    if (!(error instanceof StoreUnavailableError) || typeof location !== "string") throw error;
    logger.warn({ err: error }, "the store was left incomplete by an interrupted snapshot import: restoring it again");
    await rm(location, { recursive: true, force: true });
    return MvccStore.open(location);
  }
}

function authEntryOf({ entry, envelope }: Decoded): AuthEntry {
  const command = envelope?.command.kind === "auth" ? envelope.command.command : undefined;
  const checkedRevision = envelope?.authRevision;
  return { index: entry.index, ...(command ? { command } : {}), ...(checkedRevision === undefined ? {} : { checkedRevision }) };
}

function capEntryOf({ entry, envelope }: Decoded): CapEntry {
  const command = envelope?.command;
  if (command?.kind === "store") return { index: entry.index, request: command.request };
  if (command?.kind === "alarm") return { index: entry.index, alarm: { action: command.action, alarm: command.alarm } };
  return { index: entry.index };
}

/**
 * What the MVCC store applies of an entry: a store request, unless auth or
 * the space cap refused it; the auth state an auth command left; the
 * members holding NOSPACE after an alarm.
 */
function toLogEntry(item: Decoded, auth: AuthOutcome | undefined, cap: CapDecision): LogEntry {
  const { index } = item.entry;
  const envelope = item.envelope;
  if (auth?.status === "applied" && auth.sideRecord) return { index, sideRecord: auth.sideRecord };
  const noSpaceRecord = cap.records.get(index);
  if (noSpaceRecord) return { index, sideRecord: noSpaceRecord };
  if (envelope?.command.kind !== "store" || auth?.status === "rejected" || cap.refused.has(index)) return { index };
  const { request } = envelope.command;
  return envelope.clientRequestId === undefined ? { index, request } : { index, request, requestId: envelope.clientRequestId };
}
