import type { NodeId } from "./types.js";

/** The smallest number of voters that forms a majority. */
export function majority(voterCount: number): number {
  return Math.floor(voterCount / 2) + 1;
}

/**
 * The highest index that a majority of voters has durably stored: sort the
 * acknowledged indexes from high to low and take the one at the majority rank.
 */
export function committedIndex(voters: ReadonlySet<NodeId>, acknowledged: (id: NodeId) => number): number {
  if (voters.size === 0) return 0;
  const matches = [...voters].map(acknowledged).sort((a, b) => b - a);
  return matches[majority(voters.size) - 1] ?? 0;
}

export enum VoteResult {
  Pending = "pending",
  Won = "won",
  Lost = "lost",
}

/** Tallies an election: won once a majority grants, lost once a majority can no longer grant. */
export function voteResult(voters: ReadonlySet<NodeId>, votes: ReadonlyMap<NodeId, boolean>): VoteResult {
  let granted = 0;
  let rejected = 0;
  for (const id of voters) {
    const vote = votes.get(id);
    if (vote === true) granted++;
    else if (vote === false) rejected++;
  }
  const needed = majority(voters.size);
  if (granted >= needed) return VoteResult.Won;
  if (voters.size - rejected < needed) return VoteResult.Lost;
  return VoteResult.Pending;
}

/** Whether the given members include a majority of the voters. */
export function hasQuorum(voters: ReadonlySet<NodeId>, members: (id: NodeId) => boolean): boolean {
  let count = 0;
  for (const id of voters) if (members(id)) count++;
  return count >= majority(voters.size);
}
