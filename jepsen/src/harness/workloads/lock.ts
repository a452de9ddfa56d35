/**
 * A lock, checked through its fencing tokens. A client that acquires the
 * lock writes a few entries stamped with its token, each guarded by a txn
 * that its lock key still exists with that token as create revision (the
 * fence), then releases. In the store's own order (mod revisions) the
 * entries' tokens must never go down: a lower token writing after a higher
 * one means two holders' critical sections overlapped. Acknowledged entries
 * must survive, and no two acquisitions may get the same token.
 */
import type { HistoryEvent, Value } from "../../checker/index.js";
import { send, textOf } from "../http.js";
import type { Completion } from "../recorder.js";
import {
  completedOperations,
  performUntilOk,
  type CompletedOperation,
  verdictOf,
  type Anomaly,
  type Client,
  type Verdict,
  type Workload,
  type WorkloadContext,
} from "./workload.js";

const LOCK = "harness-lock";
const LOG_PREFIX = "lock-log/";
/** Seconds a holder's lease lasts: shorter than the faults, so leases do expire under them. */
const LEASE_TTL = 2;
const ENTRIES_PER_SECTION = 3;

interface Held {
  readonly key: string;
  readonly token: number;
}

/** An entry of the log, as the final read found it. */
interface Entry {
  readonly token: number;
  readonly index: number;
  readonly revision: number;
}

export class LockWorkload implements Workload {
  constructor(private readonly context: WorkloadContext) {}

  async setup(): Promise<void> {}

  async step(client: Client): Promise<Completion> {
    const acquired = await this.context.recorder.perform(client.process, { f: "acquire" }, () => this.acquire(client));
    if (acquired.type !== "ok") return acquired;
    const held = heldOf(acquired.value);
    for (let index = 0; index < ENTRIES_PER_SECTION; index++) {
      const written = await this.context.recorder.perform(client.process, { f: "write", value: [held.token, index] }, () =>
        this.writeEntry(client, held, index),
      );
      if (written.type !== "ok") break;
    }
    return this.context.recorder.perform(client.process, { f: "release", value: held.token }, () => this.release(client, held));
  }

  async final(): Promise<void> {
    await performUntilOk(this.context, "final", { f: "read" }, async (url) => {
      const kvs = await this.context.store.rangePrefix(url, LOG_PREFIX, this.context.timeoutMs * 4);
      return { type: "ok", value: kvs.map((kv) => [...(JSON.parse(kv.value) as [number, number]), kv.modRevision]) };
    });
  }

  check(history: readonly HistoryEvent[]): Verdict {
    const finalRead = completedOperations(history, "read").findLast((op) => op.completion?.type === "ok")?.completion?.value;
    const writes = completedOperations(history, "write");
    if (!Array.isArray(finalRead)) return { valid: "unknown", operations: writes.length, anomalies: [], text: "no final read completed" };
    const entries = (finalRead as readonly (readonly number[])[]).map(([token, index, revision]) => ({ token: token!, index: index!, revision: revision! }));
    const acquisitions = completedOperations(history, "acquire");
    const anomalies = [...overlaps(entries), ...lostEntries(writes, entries), ...reusedTokens(acquisitions)];
    return verdictOf(acquisitions.length + writes.length + 1, anomalies);
  }

  /** Waits its turn in the lock's queue; one timeout covers the wait, which the fault may stretch. */
  private async acquire({ url, timeoutMs }: Client): Promise<Completion> {
    const response = await send(`${url}/v1/locks/${LOCK}?ttl=${LEASE_TTL}`, { method: "POST" }, timeoutMs * 3);
    const { key, token } = JSON.parse(await textOf(response)) as Held;
    return { type: "ok", value: { key, token } };
  }

  private async writeEntry({ url, timeoutMs }: Client, held: Held, index: number): Promise<Completion> {
    const fence = { key: held.key, target: "CREATE", revision: held.token } as const;
    const entryKey = `${LOG_PREFIX}${String(held.token).padStart(12, "0")}/${index}`;
    const result = await this.context.store.putIf(url, [fence], { [entryKey]: JSON.stringify([held.token, index]) }, timeoutMs);
    return result.succeeded ? { type: "ok" } : { type: "fail", error: "fenced out: the lock key is gone" };
  }

  /** A lease that already expired leaves nothing to release: that is a failed release, not an error. */
  private async release({ url, timeoutMs }: Client, held: Held): Promise<Completion> {
    const response = await send(`${url}/v1/locks/${LOCK}?key=${encodeURIComponent(held.key)}`, { method: "DELETE" }, timeoutMs);
    await textOf(response, [200, 404]);
    return response.status === 200 ? { type: "ok" } : { type: "fail", error: "not held any more" };
  }
}

function heldOf(value: Value | undefined): Held {
  const { key, token } = value as { key: string; token: number };
  return { key, token };
}

/** Entries in store order whose token is lower than one already written: overlapping critical sections. */
function overlaps(entries: readonly Entry[]): Anomaly[] {
  const anomalies: Anomaly[] = [];
  let highest: Entry | undefined;
  for (const entry of [...entries].sort((a, b) => a.revision - b.revision)) {
    if (highest !== undefined && entry.token < highest.token) {
      anomalies.push({
        kind: "overlapping holders",
        detail: `token ${entry.token} wrote entry ${entry.index} at revision ${entry.revision}, after token ${highest.token} wrote at revision ${highest.revision}`,
      });
    }
    if (highest === undefined || entry.token >= highest.token) highest = entry;
  }
  return anomalies;
}

function lostEntries(writes: readonly CompletedOperation[], entries: readonly Entry[]): Anomaly[] {
  const present = new Set(entries.map((entry) => `${entry.token}/${entry.index}`));
  return writes
    .filter((op) => op.completion?.type === "ok")
    .map((op) => (op.invoke.value as readonly number[]).join("/"))
    .filter((name) => !present.has(name))
    .map((name) => ({ kind: "lost", detail: `acknowledged entry ${name} (token/index) is missing from the final read` }));
}

function reusedTokens(acquisitions: readonly CompletedOperation[]): Anomaly[] {
  const holders = new Map<number, number>();
  for (const op of acquisitions) {
    if (op.completion?.type !== "ok") continue;
    const { token } = heldOf(op.completion.value);
    holders.set(token, (holders.get(token) ?? 0) + 1);
  }
  return [...holders]
    .filter(([, count]) => count > 1)
    .map(([token, count]) => ({ kind: "token reused", detail: `${count} acquisitions got fencing token ${token}` }));
}
