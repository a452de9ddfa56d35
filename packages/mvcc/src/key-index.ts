import type { KeyRange, KeyString } from "./keys.js";
import { SortedKeys } from "./sorted-keys.js";

/**
 * One stored revision of one key: everything about it except the value, so
 * that counts, filters, compares and keys-only reads never touch LevelDB.
 * A tombstone (a delete) has createRevision, version and lease 0.
 */
export interface KeyRevision {
  readonly main: number;
  readonly sub: number;
  readonly createRevision: number;
  readonly version: number;
  readonly lease: number;
  readonly tombstone: boolean;
}

/** A stored revision with the key it belongs to. */
export interface LoggedRevision {
  readonly key: KeyString;
  readonly revision: KeyRevision;
}

/**
 * A key's stored revisions, oldest first. Most keys have one (every key after
 * a compaction), held without an array: an array costs about 85 bytes more
 * per key, a third of the index.
 */
type History = KeyRevision | KeyRevision[];

function newest(history: History): KeyRevision {
  return Array.isArray(history) ? history[history.length - 1]! : history;
}

function withAppended(history: History | undefined, revision: KeyRevision): History {
  if (history === undefined) return revision;
  if (!Array.isArray(history)) return [history, revision];
  history.push(revision);
  return history;
}

/**
 * The in-memory index of every stored revision, rebuilt from LevelDB on open:
 * per key its revisions in order (for reads at any revision), the keys in
 * order (for ranges), and all revisions in revision order (for replaying
 * events to watchers).
 */
export class KeyIndex {
  private readonly histories = new Map<KeyString, History>();
  private order = new SortedKeys();
  // Every stored revision in revision order, as two parallel arrays: an
  // object per entry would cost 40 bytes more per revision.
  private logKeys: KeyString[] = [];
  private logRevisions: KeyRevision[] = [];
  private liveKeys = 0;

  /**
   * Builds the index from the stored revisions in revision order, given a
   * batch at a time, so that a store's open never holds them all at once.
   */
  static async build(batches: AsyncIterable<readonly LoggedRevision[]>): Promise<KeyIndex> {
    const index = new KeyIndex();
    // Where the log has a key's second or later revision: only there does it hold a copy of a key held already.
    const repeats: number[] = [];
    for await (const batch of batches) {
      for (const { key, revision } of batch) {
        const history = index.histories.get(key);
        if (history !== undefined) repeats.push(index.logKeys.length);
        index.histories.set(key, withAppended(history, revision));
        index.logKeys.push(key);
        index.logRevisions.push(revision);
      }
    }
    index.order = SortedKeys.fromSorted([...index.histories.keys()].sort());
    index.shareLoggedKeys(repeats);
    for (const history of index.histories.values()) {
      if (!newest(history).tombstone) index.liveKeys++;
    }
    return index;
  }

  get liveKeyCount(): number {
    return this.liveKeys;
  }

  get storedRevisionCount(): number {
    return this.logRevisions.length;
  }

  /** The key's live version as of `revision`, if it had one. */
  visibleAt(key: KeyString, revision: number): KeyRevision | undefined {
    const history = this.histories.get(key);
    if (history === undefined) return undefined;
    const found = Array.isArray(history) ? history[lastAtOrBelow(history, revision)] : history.main <= revision ? history : undefined;
    return found === undefined || found.tombstone ? undefined : found;
  }

  /** Each live key whose newest revision carries a lease, with the lease. */
  *leased(): Generator<[KeyString, number]> {
    for (const [key, history] of this.histories) {
      const last = newest(history);
      if (!last.tombstone && last.lease !== 0) yield [key, last.lease];
    }
  }

  /** The live versions as of `revision` of the keys in `range`, in key order. */
  *visibleInRange(range: KeyRange, revision: number): Generator<LoggedRevision> {
    for (const key of this.order.between(range.start, range.end)) {
      const found = this.visibleAt(key, revision);
      if (found !== undefined) yield { key, revision: found };
    }
  }

  /** The stored revision of the same key just before `revision`. */
  previous(key: KeyString, revision: KeyRevision): KeyRevision | undefined {
    const history = this.histories.get(key);
    if (!Array.isArray(history)) return undefined;
    // A key is written at most once per main revision, so main alone finds it.
    const at = lastAtOrBelow(history, revision.main);
    return at > 0 ? history[at - 1] : undefined;
  }

  /** Stored revisions from main revision `start` on, in revision order. */
  *loggedFrom(start: number): Generator<LoggedRevision> {
    let low = 0;
    let high = this.logRevisions.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (this.logRevisions[mid]!.main < start) low = mid + 1;
      else high = mid;
    }
    for (let i = low; i < this.logRevisions.length; i++) yield { key: this.logKeys[i]!, revision: this.logRevisions[i]! };
  }

  append(key: KeyString, revision: KeyRevision): void {
    const history = this.histories.get(key);
    const wasLive = history !== undefined && !newest(history).tombstone;
    if (history === undefined) this.order.add(key);
    this.histories.set(key, withAppended(history, revision));
    this.logKeys.push(history === undefined ? key : this.heldKey(key));
    this.logRevisions.push(revision);
    this.liveKeys += Number(!revision.tombstone) - Number(wasLive);
  }

  /**
   * The key string the index holds already, for the revision log: each
   * request decodes a key of its own, and keeping that copy per revision
   * costs the key's length plus 16 bytes on every revision after the first.
   */
  private heldKey(key: KeyString): KeyString {
    return this.order.find(key) ?? key;
  }

  /** After open's scan: the keys logged at `positions`, later revisions of their keys, become the held ones (see heldKey). */
  private shareLoggedKeys(positions: readonly number[]): void {
    for (const i of positions) this.logKeys[i] = this.heldKey(this.logKeys[i]!);
  }

  /**
   * Forgets what a compaction at `atRevision` removes: per key every revision
   * at or below it except the newest, and that one too if it is a tombstone.
   * Returns the removed revisions, for deleting them from LevelDB.
   */
  compact(atRevision: number): LoggedRevision[] {
    const removed: LoggedRevision[] = [];
    for (const [key, history] of this.histories) {
      const revisions = Array.isArray(history) ? history : [history];
      const kept = lastAtOrBelow(revisions, atRevision);
      if (kept < 0) continue;
      const removedCount = revisions[kept]!.tombstone ? kept + 1 : kept;
      if (removedCount === 0) continue;
      for (const revision of revisions.splice(0, removedCount)) removed.push({ key, revision });
      if (revisions.length === 0) {
        this.histories.delete(key);
        this.order.delete(key);
      } else if (revisions.length === 1) {
        this.histories.set(key, revisions[0]!);
      }
    }
    if (removed.length > 0) {
      const gone = new Set(removed.map((entry) => entry.revision));
      let kept = 0;
      for (let i = 0; i < this.logRevisions.length; i++) {
        if (gone.has(this.logRevisions[i]!)) continue;
        this.logKeys[kept] = this.logKeys[i]!;
        this.logRevisions[kept] = this.logRevisions[i]!;
        kept++;
      }
      this.logKeys.length = kept;
      this.logRevisions.length = kept;
    }
    return removed;
  }
}

/** The position of the newest revision whose main revision is <= `revision`, or -1. */
function lastAtOrBelow(history: readonly KeyRevision[], revision: number): number {
  if (history[history.length - 1]!.main <= revision) return history.length - 1;
  let low = 0;
  let high = history.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (history[mid]!.main <= revision) low = mid + 1;
    else high = mid;
  }
  return low - 1;
}
