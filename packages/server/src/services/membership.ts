/**
 * Membership: etcd's member list, add, remove, promote and update, decided
 * by the leader and carried through the log, and a member's announcement of
 * its own name and client URLs.
 */
import { ConfChangeType, Role, type ConfChange, type Status } from "@raftkv/raft";
import { memberIdOf, parseUrl } from "../config.js";
import { etcdError } from "../errors.js";
import type * as api from "../kv/api.js";
import { encodeAttributes, type Member, type MemberRegistry } from "../members.js";
import type { PeerActivity } from "../peer-activity.js";
import type { RaftHost } from "../raft-host.js";
import { leavesStartedQuorum } from "../reconfig-check.js";
import type { Proposer } from "./proposer.js";

export interface MembershipServiceOptions {
  readonly host: Pick<RaftHost, "status" | "proposeConfChange" | "leader" | "requestTimeoutMs" | "readBarrier" | "until">;
  readonly proposer: Proposer;
  readonly registry: MemberRegistry;
  /** Which peers were heard from lately: the started members of the strict reconfiguration check. */
  readonly activity: PeerActivity;
  /** etcd's --strict-reconfig-check. */
  readonly strictReconfigCheck: boolean;
  readonly clusterToken: string;
  /** The scheme of this cluster's peer URLs: https when its members speak TLS to each other. */
  readonly peerScheme: PeerScheme;
}

export type PeerScheme = "http" | "https";

/** A learner may be promoted once it holds this share of the leader's log (etcd's rule). */
const LEARNER_READY_SHARE = 0.9;

export class MembershipService implements api.ClusterApi {
  constructor(private readonly options: MembershipServiceOptions) {}

  private get host(): MembershipServiceOptions["host"] {
    return this.options.host;
  }

  private header(): api.ResponseHeader {
    return this.options.proposer.header();
  }

  async memberList(): Promise<{ header: api.ResponseHeader; members: readonly api.MemberInfo[] }> {
    return { header: this.header(), members: this.options.registry.list() };
  }

  async memberAdd(peerUrls: readonly string[], isLearner: boolean) {
    const peerUrl = peerUrls[0];
    if (!peerUrl) throw etcdError("memberNotFound");
    assertPeerUrls(peerUrls, this.options.peerScheme);
    const registry = this.options.registry;
    if (registry.list().some((member) => member.peerUrls.some((url) => peerUrls.includes(url)))) throw etcdError("peerUrlExists");
    const id = memberIdOf(peerUrl, this.options.clusterToken);
    const type = isLearner ? ConfChangeType.AddLearner : ConfChangeType.AddNode;
    const context = encodeAttributes({ name: "", peerUrls, clientUrls: [] });
    await this.changeMembership({ type, nodeId: id, context }, () => registry.get(id) !== undefined);
    const member = registry.get(id) as Member;
    return { header: this.header(), member, members: registry.list() };
  }

  async memberRemove(id: number) {
    const registry = this.options.registry;
    if (!registry.get(id)) throw etcdError("memberNotFound");
    await this.changeMembership({ type: ConfChangeType.RemoveNode, nodeId: id }, () => registry.get(id) === undefined);
    return { header: this.header(), members: registry.list() };
  }

  async memberPromote(id: number) {
    const registry = this.options.registry;
    const member = registry.get(id);
    if (!member) throw etcdError("memberNotFound");
    if (!member.isLearner) throw etcdError("memberNotLearner");
    await this.changeMembership({ type: ConfChangeType.PromoteLearner, nodeId: id }, () => registry.get(id)?.isLearner === false);
    return { header: this.header(), members: registry.list() };
  }

  async memberUpdate(id: number, peerUrls: readonly string[]) {
    const registry = this.options.registry;
    if (!registry.get(id)) throw etcdError("memberNotFound");
    assertPeerUrls(peerUrls, this.options.peerScheme);
    await this.options.proposer.propose({ kind: "update-member", memberId: id, peerUrls });
    return { header: this.header(), members: registry.list() };
  }

  /** Where to send what only the leader may decide, once a leader is known; undefined when this member leads. */
  async leaderClientUrl(): Promise<string | undefined> {
    await this.options.proposer.whenLeaderKnown();
    const leader = this.host.leader;
    if (leader === this.options.proposer.memberId) return undefined;
    return this.options.registry.get(leader)?.clientUrls[0];
  }

  /** Announces this member's name and client URLs through the log, once a leader exists. */
  publish(name: string, clientUrls: readonly string[]): void {
    this.options.proposer.proposeUntilApplied({ kind: "publish", memberId: this.options.proposer.memberId, name, clientUrls });
  }

  /**
   * Proposes a membership change and waits until it is applied here. Only
   * the leader decides (the front ends forward the request to it): it alone
   * knows how far each learner is and which members answer.
   */
  private async changeMembership(change: ConfChange, applied: () => boolean): Promise<void> {
    await this.options.proposer.whenLeaderKnown();
    const status = this.host.status();
    if (status.role !== Role.Leader) throw etcdError("notLeader");
    if (change.type === ConfChangeType.PromoteLearner) assertLearnerReady(status, change.nodeId);
    if (this.options.strictReconfigCheck && !leavesStartedQuorum(change, status.conf, (id) => this.isStarted(id))) {
      throw etcdError("notEnoughStartedMembers");
    }
    // Raft takes no change from a leader before it has committed an entry of its term; a read barrier waits for that.
    await this.host.readBarrier();
    this.host.proposeConfChange(change);
    // The registry shows a change only once the raft core has taken it in, so the next change may follow the reply at once.
    await this.host.until(applied, this.host.requestTimeoutMs);
  }

  /** A member is started if it is this one or the leader heard from it lately. */
  private isStarted(id: number): boolean {
    return id === this.options.proposer.memberId || this.options.activity.isActive(id);
  }
}

/** etcd's rule: a learner may be promoted once it holds 90% of what the leader holds. */
function assertLearnerReady(status: Status, id: number): void {
  const learner = status.progress.get(id);
  const leader = status.progress.get(status.id);
  if (!learner || !leader || learner.match < leader.match * LEARNER_READY_SHARE) throw etcdError("learnerNotReady");
}

/**
 * Every member parses the peer URLs of a change it applies: one it cannot
 * parse would stop every member's Raft loop, so it is refused before it is
 * proposed; so is one of the other scheme than this cluster's (its members
 * speak TLS to each other, https://, or none does, http://), which no
 * member could reach.
 */
function assertPeerUrls(peerUrls: readonly string[], scheme: PeerScheme): void {
  for (const url of peerUrls) {
    try {
      parseUrl(url);
    } catch {
      throw etcdError("memberBadUrls");
    }
    if (!url.startsWith(`${scheme}://`)) throw etcdError("memberBadUrls");
  }
}
