/**
 * etcd's --strict-reconfig-check: a membership change must leave a quorum of
 * the voters it creates started, or the cluster could stop making progress
 * the moment the change applies. A member being added has not started yet;
 * adding or removing a learner never changes the quorum. As in etcd, a
 * started lone voter may still add a second one (how a cluster restored from
 * a backup on one member grows again), though the pair needs both to commit.
 */
import { ConfChangeType, type ConfChange, type ConfState, type NodeId } from "@raftkv/raft";

/** Whether the voters after `change` include enough started members to form a quorum. */
export function leavesStartedQuorum(change: Pick<ConfChange, "type" | "nodeId">, conf: ConfState, isStarted: (id: NodeId) => boolean): boolean {
  const voters = votersAfter(change, conf);
  if (voters === undefined) return true;
  if (change.type === ConfChangeType.AddNode && conf.voters.length === 1 && isStarted(conf.voters[0]!)) return true;
  const started = voters.filter((id) => id !== addedVoter(change) && isStarted(id));
  return started.length >= quorumOf(voters.length);
}

function votersAfter({ type, nodeId }: Pick<ConfChange, "type" | "nodeId">, conf: ConfState): NodeId[] | undefined {
  const others = conf.voters.filter((id) => id !== nodeId);
  switch (type) {
    case ConfChangeType.AddNode:
    case ConfChangeType.PromoteLearner:
      return [...others, nodeId];
    case ConfChangeType.RemoveNode:
      return conf.voters.includes(nodeId) ? others : undefined;
    case ConfChangeType.AddLearner:
      return undefined;
  }
}

/** A brand-new voter cannot have started: it is added before it is launched. */
function addedVoter({ type, nodeId }: Pick<ConfChange, "type" | "nodeId">): NodeId | undefined {
  return type === ConfChangeType.AddNode ? nodeId : undefined;
}

function quorumOf(voters: number): number {
  return Math.floor(voters / 2) + 1;
}
