/**
 * Registers: reads, writes and compare-and-sets on many independent keys,
 * checked for linearizability key by key. Each key takes a bounded number of
 * operations before the clients move on to fresh keys, so that no single
 * key's history grows too large to search, as Jepsen's independent keys do.
 */
import { checkHistory, registerModel, formatReport, type HistoryEvent } from "../../checker/index.js";
import type { Completion } from "../recorder.js";
import { performUntilOk, type Client, type Verdict, type Workload, type WorkloadContext } from "./workload.js";

/** Keys in use at once, and operations each takes before being retired. */
const ACTIVE_KEYS = 5;
const OPERATIONS_PER_KEY = 150;
/** Few distinct values, so compare-and-sets often find what they expect. */
const VALUES = 5;

export class RegisterWorkload implements Workload {
  private started = 0;
  private readonly used = new Set<number>();

  constructor(private readonly context: WorkloadContext) {}

  async setup(): Promise<void> {}

  step(client: Client): Promise<Completion> {
    const key = this.nextKey(client);
    const dice = client.random.next();
    if (dice < 0.5) return this.read(client, key);
    const value = client.random.int(VALUES);
    if (dice < 0.75) return this.write(client, key, value);
    return this.cas(client, key, client.random.int(VALUES), value);
  }

  async final(): Promise<void> {
    for (const key of [...this.used].sort((a, b) => a - b)) {
      await performUntilOk(this.context, "final", { f: "read", key }, (url) => this.readValue(url, key, this.context.timeoutMs));
    }
  }

  check(history: readonly HistoryEvent[]): Verdict {
    const result = checkHistory(history, registerModel, { timeoutMs: this.context.checkTimeoutMs });
    const anomalies = result.partitions
      .filter((partition) => partition.valid === false)
      .map((partition) => ({ kind: "not linearizable", detail: `key ${String(partition.key)}: ${partition.operations} operations` }));
    return { valid: result.valid, operations: result.operations, anomalies, text: formatReport(result) };
  }

  private nextKey(client: Client): number {
    const generation = Math.floor(this.started++ / (ACTIVE_KEYS * OPERATIONS_PER_KEY));
    const key = generation * ACTIVE_KEYS + client.random.int(ACTIVE_KEYS);
    this.used.add(key);
    return key;
  }

  private read(client: Client, key: number): Promise<Completion> {
    return this.context.recorder.perform(client.process, { f: "read", key }, () => this.readValue(client.url, key, client.timeoutMs));
  }

  private async readValue(url: string, key: number, timeoutMs: number): Promise<Completion> {
    const value = await this.context.store.get(url, storeKey(key), timeoutMs);
    return { type: "ok", value: value === undefined ? null : Number(value) };
  }

  private write({ process, url, timeoutMs }: Client, key: number, value: number): Promise<Completion> {
    return this.context.recorder.perform(process, { f: "write", key, value }, async () => {
      await this.context.store.put(url, storeKey(key), String(value), timeoutMs);
      return { type: "ok" };
    });
  }

  /** By value, in one txn: a compare on the value, a put when it holds. */
  private cas({ process, url, timeoutMs }: Client, key: number, expected: number, value: number): Promise<Completion> {
    return this.context.recorder.perform(process, { f: "cas", key, value: [expected, value] }, async () => {
      const compare = { key: storeKey(key), target: "VALUE", value: String(expected) } as const;
      const result = await this.context.store.putIf(url, [compare], { [storeKey(key)]: String(value) }, timeoutMs);
      return result.succeeded ? { type: "ok" } : { type: "fail", error: "compare failed" };
    });
  }
}

function storeKey(key: number): string {
  return `register/${key}`;
}
