import { NONE, type NodeId } from "./types.js";

/**
 * The voter a leader hands leadership to: the one whose log matches its own
 * furthest (the lowest id among equals), never the leader itself; NONE when
 * no other voter is known. A removed leader's hand-over and an application's
 * graceful stop choose by this one rule.
 */
export function mostCaughtUpVoter(voters: Iterable<NodeId>, leader: NodeId, matchOf: (id: NodeId) => number | undefined): NodeId {
  let successor: NodeId = NONE;
  let successorMatch = -1;
  for (const id of [...voters].sort((a, b) => a - b)) {
    const match = matchOf(id);
    if (id === leader || match === undefined || match <= successorMatch) continue;
    successor = id;
    successorMatch = match;
  }
  return successor;
}
