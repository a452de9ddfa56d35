import type { AppliedConfChange, ConfChange, ConfState, Entry, NodeId } from "./types.js";
import { ConfChangeType, EntryType } from "./types.js";

/**
 * Membership changes, one member at a time (Raft thesis §4.1): any majority of
 * the old voters overlaps any majority of the new, so no joint phase is needed
 * as long as only one change is pending at a time.
 */

/** Why a change cannot apply to a configuration, or undefined if it can. */
export function confChangeError(conf: ConfState, change: ConfChange): string | undefined {
  const isVoter = conf.voters.includes(change.nodeId);
  const isLearner = conf.learners.includes(change.nodeId);
  if (change.nodeId <= 0 || !Number.isSafeInteger(change.nodeId)) return `invalid member id ${change.nodeId}`;
  switch (change.type) {
    case ConfChangeType.AddNode:
      return isVoter || isLearner ? `member ${change.nodeId} already exists` : undefined;
    case ConfChangeType.AddLearner:
      return isVoter || isLearner ? `member ${change.nodeId} already exists` : undefined;
    case ConfChangeType.PromoteLearner:
      return isLearner ? undefined : `member ${change.nodeId} is not a learner`;
    case ConfChangeType.RemoveNode:
      if (!isVoter && !isLearner) return `member ${change.nodeId} does not exist`;
      return isVoter && conf.voters.length === 1 ? "cannot remove the last voter" : undefined;
  }
}

/**
 * The changes among `entries` that take effect when they are applied in
 * order from `conf`, each with the configuration after it. An invalid change
 * is a no-op, decided identically on every member.
 */
export function confChangesTakenBy(conf: ConfState, entries: readonly Entry[]): AppliedConfChange[] {
  const taken: AppliedConfChange[] = [];
  let current = conf;
  for (const entry of entries) {
    if (entry.type !== EntryType.ConfChange) continue;
    const change = decodeConfChange(entry.data);
    if (confChangeError(current, change)) continue;
    current = applyConfChange(current, change);
    taken.push({ index: entry.index, change, conf: current });
  }
  return taken;
}

/** The configuration after a valid change. */
export function applyConfChange(conf: ConfState, change: ConfChange): ConfState {
  const without = (ids: readonly NodeId[]) => ids.filter((id) => id !== change.nodeId);
  switch (change.type) {
    case ConfChangeType.AddNode:
    case ConfChangeType.PromoteLearner:
      return { voters: [...without(conf.voters), change.nodeId].sort((a, b) => a - b), learners: without(conf.learners) };
    case ConfChangeType.AddLearner:
      return { voters: without(conf.voters), learners: [...without(conf.learners), change.nodeId].sort((a, b) => a - b) };
    case ConfChangeType.RemoveNode:
      return { voters: without(conf.voters), learners: without(conf.learners) };
  }
}

/** Layout: type (1 byte), member id (8-byte float), then the opaque context. */
export function encodeConfChange(change: ConfChange): Uint8Array {
  const context = change.context ?? new Uint8Array();
  const bytes = new Uint8Array(9 + context.byteLength);
  const view = new DataView(bytes.buffer);
  view.setUint8(0, change.type);
  view.setFloat64(1, change.nodeId);
  bytes.set(context, 9);
  return bytes;
}

export function decodeConfChange(bytes: Uint8Array): ConfChange {
  if (bytes.byteLength < 9) throw new Error("raft: conf change entry is too short");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const type = view.getUint8(0);
  if (!(type in ConfChangeType)) throw new Error(`raft: unknown conf change type ${type}`);
  return { type: type as ConfChangeType, nodeId: view.getFloat64(1), context: bytes.slice(9) };
}
