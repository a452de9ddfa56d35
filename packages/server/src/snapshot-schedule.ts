/**
 * At which applied indexes a member takes its snapshots. A snapshot copies
 * the whole store into a file and fsyncs it: 0.6 to 0.8 s of CPU for 29 MiB
 * (100,000 puts of 256 bytes), half of it or more on the event loop. Counted from the
 * same start, every member would take it at the same index, and so at the
 * same moment: the whole cluster slowed at once, no majority stayed at full
 * speed to commit writes, and the benchmark's worst latencies fell there
 * (bench/README.md, "Where the put tail comes from"). So each member's
 * snapshots fall on a grid of its own, every `count` entries, shifted by its
 * rank among the members: with three members, a third of `count` apart.
 */
import type { ConfState, NodeId } from "@raftkv/raft";

/** Where this member's grid starts: its rank among all members (voters and learners, by id) times an equal share of `count`. */
export function snapshotPhase(self: NodeId, conf: ConfState, count: number): number {
  const members = [...conf.voters, ...conf.learners].sort((a, b) => a - b);
  const rank = Math.max(0, members.indexOf(self));
  return Math.floor((rank * count) / Math.max(1, members.length));
}

/**
 * Whether a snapshot is due: applying has passed a point of the grid since
 * the last snapshot. A snapshot installed from the leader, or a change of
 * rank, can leave the last one just before a point; no snapshot follows
 * another by less than half of `count`, and none by more than `count`.
 */
export function snapshotDue(lastIndex: number, appliedIndex: number, count: number, phase: number): boolean {
  if (appliedIndex - lastIndex < Math.ceil(count / 2)) return false;
  const gridStep = (index: number): number => Math.floor((index - phase) / count);
  return gridStep(appliedIndex) > gridStep(lastIndex);
}
