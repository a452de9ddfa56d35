/**
 * A deliberately naive reference for the store: every write ever made, in
 * order, and every read answered by scanning them. It knows nothing of the
 * index, LevelDB or compaction internals, only etcd's observable rules.
 */
export interface ModelKv {
  readonly key: string;
  readonly value: string;
  readonly create: number;
  readonly mod: number;
  readonly version: number;
  readonly lease: number;
}

interface Write {
  readonly key: string;
  readonly mod: number;
  /** undefined for a delete. */
  readonly kv: ModelKv | undefined;
}

export interface ModelEvent {
  readonly type: "PUT" | "DELETE";
  readonly key: string;
  readonly mod: number;
  readonly value: string;
  readonly prevValue: string | undefined;
}

export const MIN_LEASE_TTL = 2;

export class Model {
  revision = 1;
  compactRevision = 0;
  readonly leases = new Map<number, number>();
  private readonly writes: Write[] = [];

  /** The key's live version at a revision. */
  at(key: string, revision = this.revision): ModelKv | undefined {
    let found: Write | undefined;
    for (const write of this.writes) if (write.key === key && write.mod <= revision) found = write;
    return found?.kv;
  }

  /** Live versions at a revision of the keys in [start, end); end undefined: just start; "\0": unbounded. */
  range(start: string, end: string | undefined, revision = this.revision): ModelKv[] {
    const keys = [...new Set(this.writes.map((write) => write.key))].sort();
    return keys
      .filter((key) => (end === undefined ? key === start : key >= start && (end === "\0" || key < end)))
      .map((key) => this.at(key, revision))
      .filter((kv): kv is ModelKv => kv !== undefined);
  }

  /** Applies writes as one revision; `plan` lists puts and deletes in order. */
  write(plan: readonly ({ put: string; value: string; lease: number } | { delete: string; end: string | undefined })[]): void {
    const mod = this.revision + 1;
    let changed = false;
    for (const step of plan) {
      if ("put" in step) {
        const previous = this.at(step.put, mod);
        const kv = {
          key: step.put,
          value: step.value,
          create: previous?.create ?? mod,
          mod,
          version: (previous?.version ?? 0) + 1,
          lease: step.lease,
        };
        this.writes.push({ key: step.put, mod, kv });
        changed = true;
      } else {
        for (const victim of this.range(step.delete, step.end, mod)) {
          this.writes.push({ key: victim.key, mod, kv: undefined });
          changed = true;
        }
      }
    }
    if (changed) this.revision = mod;
  }

  /**
   * How many revisions a compacted store still holds: everything after the
   * compaction point, and each key's newest version at it unless a delete.
   */
  storedRevisions(): number {
    return this.writes.filter((write, position) => {
      if (write.mod > this.compactRevision) return true;
      const later = this.writes.slice(position + 1).find((next) => next.key === write.key);
      return write.kv !== undefined && (later === undefined || later.mod > this.compactRevision);
    }).length;
  }

  keysOfLease(id: number): string[] {
    return this.range("\0", "\0")
      .filter((kv) => kv.lease === id)
      .map((kv) => kv.key);
  }

  /**
   * Events from `start` (>= the compaction point) on. Compaction at C removed
   * the deletes made at C itself and every version older than each key's
   * newest at C, which is what prevKv of an event at C would need.
   */
  eventsSince(start: number): ModelEvent[] {
    const events: ModelEvent[] = [];
    this.writes.forEach((write, position) => {
      if (write.mod < start) return;
      if (write.kv === undefined && write.mod === this.compactRevision) return;
      const previous = this.writes
        .slice(0, position)
        .filter((earlier) => earlier.key === write.key)
        .pop();
      const prevValue = previous?.kv !== undefined && write.mod > this.compactRevision ? previous.kv.value : undefined;
      events.push({
        type: write.kv === undefined ? "DELETE" : "PUT",
        key: write.key,
        mod: write.mod,
        value: write.kv?.value ?? "",
        prevValue,
      });
    });
    return events;
  }
}
