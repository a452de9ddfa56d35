/**
 * The corruption check (etcd's --experimental-initial-corrupt-check and
 * --experimental-corrupt-check-time): members that applied the same log hold
 * the same data, so their HashKV at one revision must agree. The checker
 * hashes its own store at its current revision and asks every other member,
 * at its client URL from the member registry, for the hash at that same
 * revision. A member whose hash differs from the one most members hold is
 * reported, once a second round confirms it (a compaction landing between
 * two hashes, say, does not raise an alarm). Members that cannot be asked,
 * have not reached the revision, or compacted to a different point are left
 * out of that round rather than suspected.
 */
import type { HashResult } from "@raftkv/mvcc";
import type { Logger } from "pino";
import type { MemberRegistry } from "./members.js";

export interface CorruptionCheckOptions {
  readonly memberId: number;
  readonly registry: MemberRegistry;
  readonly store: { readonly revision: number; hash(revision: number): Promise<HashResult> };
  readonly logger: Logger;
  /** How long a peer may take to answer. */
  readonly peerTimeoutMs: number;
  /** Raises a CORRUPT alarm for each member found corrupt. */
  readonly raise: (memberIds: readonly number[]) => void;
}

/** One member's answer: its hash and how far its history was compacted. */
export interface MemberHash {
  readonly memberId: number;
  readonly hash: number;
  readonly compactRevision: number;
}

export class CorruptionCheck {
  private timer: NodeJS.Timeout | undefined;
  private running = false;

  constructor(private readonly options: CorruptionCheckOptions) {}

  /** At start-up, before this member serves: a member restarted on damaged data finds out here. */
  async atStartUp(): Promise<void> {
    await this.checkAndRaise("initial corruption check");
  }

  /** Every `intervalMs`, while `shouldCheck()` (the leader checks, as in etcd). */
  startPeriodic(intervalMs: number, shouldCheck: () => boolean): void {
    this.timer = setInterval(() => {
      if (shouldCheck() && !this.running) void this.checkAndRaise("periodic corruption check");
    }, intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Members whose data differs from the others', found in two rounds in a row. */
  async findCorrupt(): Promise<number[]> {
    const first = await this.round();
    if (first.length === 0) return [];
    const second = await this.round();
    return first.filter((id) => second.includes(id));
  }

  private async checkAndRaise(check: string): Promise<void> {
    this.running = true;
    try {
      const corrupt = await this.findCorrupt();
      if (corrupt.length === 0) return;
      this.options.logger.error({ check, corrupt }, `${check}: data inconsistency found; raising a CORRUPT alarm`);
      this.options.raise(corrupt);
    } catch (error) {
      this.options.logger.warn({ err: error, check }, `${check} could not run`);
    } finally {
      this.running = false;
    }
  }

  private async round(): Promise<number[]> {
    const { store, memberId } = this.options;
    const revision = store.revision;
    const local = await store.hash(revision);
    const answers = await Promise.all(this.peerUrls().map(([peer, url]) => this.peerHash(peer, url, revision)));
    const comparable = answers.filter((answer): answer is MemberHash => answer?.compactRevision === local.compactRevision);
    this.options.logger.debug({ revision, hash: local.hash, peers: comparable }, "hashes compared");
    return outliers([{ memberId, hash: local.hash, compactRevision: local.compactRevision }, ...comparable], memberId);
  }

  private peerUrls(): [number, string][] {
    return this.options.registry
      .list()
      .filter((member) => member.id !== this.options.memberId && member.clientUrls.length > 0)
      .map((member) => [member.id, member.clientUrls[0]!]);
  }

  /** The peer's hash at `revision`, or undefined when it cannot give one now. */
  private async peerHash(memberId: number, clientUrl: string, revision: number): Promise<MemberHash | undefined> {
    try {
      const response = await fetch(`${clientUrl}/v3/maintenance/hash`, {
        method: "POST",
        body: JSON.stringify({ revision: String(revision) }),
        signal: AbortSignal.timeout(this.options.peerTimeoutMs),
      });
      const body = (await response.json()) as { hash?: number; compact_revision?: string; message?: string };
      if (!response.ok) {
        this.options.logger.debug({ peer: memberId, revision, reason: body.message }, "peer could not hash at this revision");
        return undefined;
      }
      // proto3 JSON leaves zero values out.
      return { memberId, hash: body.hash ?? 0, compactRevision: Number(body.compact_revision ?? 0) };
    } catch (error) {
      this.options.logger.debug({ peer: memberId, err: error }, "peer unreachable for the corruption check");
      return undefined;
    }
  }
}

/**
 * The members whose hash is not the one most members hold. On a tie the
 * checker trusts its own data, as etcd's checker does.
 */
export function outliers(hashes: readonly MemberHash[], self: number): number[] {
  const holders = new Map<number, number>();
  for (const { hash } of hashes) holders.set(hash, (holders.get(hash) ?? 0) + 1);
  const own = hashes.find((entry) => entry.memberId === self)?.hash;
  let agreed = own;
  for (const [hash, count] of holders) {
    if (count > (agreed === undefined ? 0 : (holders.get(agreed) ?? 0))) agreed = hash;
  }
  return hashes.filter((entry) => entry.hash !== agreed).map((entry) => entry.memberId);
}
