/**
 * What every service shares on the way to Raft: response headers, waiting
 * for a leader during an election, and proposing a command that settles
 * when this member applies it.
 */
import { randomBytes } from "node:crypto";
import { systemClock, type Clock } from "../clock.js";
import { encodeCommand, type CommandEnvelope } from "../commands.js";
import { etcdError, isEtcdError } from "../errors.js";
import type * as api from "../kv/api.js";
import type { Command, KvStateMachine } from "../kv/state-machine.js";
import type { MemberRegistry } from "../members.js";
import type { ProposalTracker } from "../proposals.js";
import type { RaftHost } from "../raft-host.js";

export interface ProposerOptions {
  readonly host: Pick<RaftHost, "propose" | "leader" | "term" | "whenLeaderKnown">;
  readonly stateMachine: KvStateMachine;
  readonly tracker: ProposalTracker;
  readonly registry: MemberRegistry;
  readonly clusterId: number;
  readonly memberId: number;
  /** Times the retries of the member's own proposals; the system's unless given. */
  readonly clock?: Clock;
}

/** How long a proposal the member makes on its own behalf waits before it is tried again. */
const RETRY_MS = 200;

export class Proposer {
  /**
   * Request ids are this prefix, drawn once per process, and a count. Only
   * this process waits on them, so an id needs to differ from those of every
   * entry it may apply meanwhile: other members' and earlier runs' prefixes
   * match this one with a chance of 2^-64. A UUID per proposal cost more to
   * make and about 20 more bytes in every entry, on every member's disk and wire.
   */
  private readonly requestIdPrefix = randomBytes(8).toString("base64url");
  private proposals = 0;

  constructor(private readonly options: ProposerOptions) {}

  get memberId(): number {
    return this.options.memberId;
  }

  header(revision = this.options.stateMachine.store.revision): api.ResponseHeader {
    return {
      clusterId: this.options.clusterId,
      memberId: this.options.memberId,
      revision,
      raftTerm: this.options.host.term,
    };
  }

  wasRemoved(): boolean {
    return this.options.registry.wasRemoved(this.options.memberId);
  }

  /**
   * Proposes one command and resolves with its result once this member
   * applied it. A retry under the client's request id is proposed again, even
   * while the first attempt is still waiting here (its proposal may have been
   * lost with a leader): the store applies whichever commits first and
   * answers the other with the same outcome.
   */
  async propose(command: Command, options?: api.WriteOptions): Promise<unknown> {
    const requestId = `${this.requestIdPrefix}${(++this.proposals).toString(36)}`;
    const { host, tracker } = this.options;
    // Only a member without a leader, or removed, has anything to wait for (and its promises to pay).
    if (host.leader === 0 || this.wasRemoved()) await this.whenLeaderKnown();
    const result = tracker.wait(requestId, host.leader);
    try {
      host.propose([encodeCommand(envelopeOf(requestId, command, options))]);
    } catch (error) {
      tracker.reject(requestId, error as Error);
    }
    return result;
  }

  /** Proposes a command of the member's own until it is applied, or the member stops. */
  proposeUntilApplied(command: Command): void {
    const attempt = (): void => {
      this.propose(command).catch((error: unknown) => {
        if (isEtcdError(error, "stopped")) return;
        (this.options.clock ?? systemClock).setTimeout(attempt, RETRY_MS).unref();
      });
    };
    attempt();
  }

  /** During an election, requests wait for its outcome (see leader-state.ts); a removed member has none to wait for. */
  async whenLeaderKnown(): Promise<void> {
    if (this.wasRemoved()) throw etcdError("stopped");
    await this.options.host.whenLeaderKnown();
  }
}

function envelopeOf(requestId: string, command: Command, options: api.WriteOptions | undefined): CommandEnvelope<Command> {
  const clientRequestId = options?.requestId;
  const authRevision = options?.authRevision;
  return {
    requestId,
    ...(clientRequestId === undefined ? {} : { clientRequestId }),
    ...(authRevision === undefined ? {} : { authRevision }),
    command,
  };
}
