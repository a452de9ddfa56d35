/**
 * Leader election on the same fair queue as Lock: candidates queue under
 * `<name>/`, the oldest leads, and the leader's key holds the value it
 * proclaims. Observers follow the leader's key-value as it changes.
 */
import type { Bytes } from "../bytes.js";
import type { Client } from "../client.js";
import { CompactedError, NotLeaderError } from "../errors.js";
import type { KeyValue } from "../wire.js";
import { HeldPlace, queueHead, queuePrefix, reachHead, stillQueued } from "./queue.js";

export interface ElectionOptions {
  /** The candidacy lease's TTL in seconds: how long a crashed leader keeps its place. */
  readonly ttl?: number;
}

/** The leader as observers see it. */
export interface LeaderView {
  readonly key: Buffer;
  readonly value: Buffer;
  /** Its candidacy's create revision: changes with each new leader. */
  readonly createRevision: number;
  readonly modRevision: number;
  readonly lease: number;
}

export const DEFAULT_ELECTION_TTL_SECONDS = 10;

export class Election {
  constructor(
    private readonly client: Client,
    readonly name: Bytes,
    private readonly options: ElectionOptions = {},
  ) {}

  /** Becomes a candidate with `value` and waits to lead; `signal` withdraws the candidacy. */
  async campaign(value: Bytes, options: { signal?: AbortSignal } = {}): Promise<Leadership> {
    const session = await this.client.lease.session(this.options.ttl ?? DEFAULT_ELECTION_TTL_SECONDS, options);
    const ticket = await reachHead(this.client, this.name, session, session, value, options.signal);
    return new Leadership(this.client, ticket, session, session.lost);
  }

  /** The current leader, or undefined when there is none. */
  async leader(options: { signal?: AbortSignal } = {}): Promise<LeaderView | undefined> {
    const { head } = await queueHead(this.client, this.name, options.signal);
    return head && viewOf(head);
  }

  /**
   * The leader now (if any) and on every change: a new leader, or a new
   * value proclaimed. Ends when `signal` aborts or the loop is left.
   */
  async *observe(options: { signal?: AbortSignal } = {}): AsyncGenerator<LeaderView> {
    let shown: LeaderView | undefined;
    while (!options.signal?.aborted) {
      const { head, revision } = await queueHead(this.client, this.name, options.signal);
      const leader = head && viewOf(head);
      if (leader && !sameWrite(leader, shown)) {
        shown = leader;
        yield leader;
      }
      for await (const view of this.followLeader(leader, revision + 1, options.signal)) {
        shown = view;
        yield view;
      }
    }
  }

  /**
   * Yields the values `leader` proclaims, from `fromRevision` on, and returns
   * when the queue's head must be read again: the leader left, or there was
   * none and a candidate arrived (or compaction hid what happened).
   */
  private async *followLeader(leader: LeaderView | undefined, fromRevision: number, signal?: AbortSignal): AsyncGenerator<LeaderView> {
    const watcher = this.client.watch.watch(queuePrefix(this.name), { prefix: true, startRevision: fromRevision, signal });
    try {
      for await (const event of watcher) {
        if (!leader || !event.kv.key.equals(leader.key)) {
          if (!leader) return;
          continue;
        }
        if (event.type === "DELETE") return;
        yield viewOf(event.kv);
      }
    } catch (error) {
      if (!(error instanceof CompactedError)) throw error;
    } finally {
      watcher.close();
    }
  }
}

export class Leadership extends HeldPlace {
  /** This candidacy's create revision: it changes with each new leader. */
  get createRevision(): number {
    return this.ticket.createRevision;
  }

  /** Sets the leader's value for observers; throws NotLeaderError if this candidacy no longer leads. */
  async proclaim(value: Bytes): Promise<void> {
    const reply = await this.client.kv.txn({
      compare: [stillQueued(this.ticket)],
      success: [{ put: { key: this.ticket.key, value, lease: this.ticket.lease } }],
    });
    if (!reply.succeeded) throw new NotLeaderError("proclaim: this candidate no longer leads (its key is gone)");
  }

  /** Steps down: the next candidate in line leads. */
  async resign(): Promise<void> {
    await this.leave();
  }
}

function viewOf(kv: KeyValue): LeaderView {
  return { key: kv.key, value: kv.value, createRevision: kv.createRevision, modRevision: kv.modRevision, lease: kv.lease };
}

function sameWrite(a: LeaderView, b: LeaderView | undefined): boolean {
  return b !== undefined && a.key.equals(b.key) && a.modRevision === b.modRevision;
}
