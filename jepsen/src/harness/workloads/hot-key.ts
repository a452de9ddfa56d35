/**
 * One hot key, as a busy service uses a configuration or leader key: each
 * client does one operation at a time, on a member drawn at random for each
 * operation, through the etcd v3 gateway or etcd's gRPC API only (so etcd
 * itself can be run under the same load): half linearizable ranges, a quarter puts, a quarter
 * compare-and-sets (a txn comparing the value). The history is checked for
 * linearizability as one register.
 *
 * Every written value is unique, which keeps the one-key check fast however
 * many writes end in doubt; a compare-and-set expects the value its client
 * saw last (a client that has seen none writes instead).
 */
import { checkHistory, formatReport, registerModel, type HistoryEvent } from "../../checker/index.js";
import type { Completion } from "../recorder.js";
import { performUntilOk, type Client, type Verdict, type Workload, type WorkloadContext } from "./workload.js";

const KEY = "hot";

export class HotKeyWorkload implements Workload {
  /** The next operation goes to a member drawn afresh, so there is nothing to back off from. */
  readonly backoffMs = 0;
  private readonly urls: readonly string[];
  private nextValue = 1;
  /** The value each client saw last, what its next compare-and-set expects. */
  private readonly lastSeen = new Map<number, number>();

  constructor(private readonly context: WorkloadContext) {
    this.urls = context.driver.nodes.map((node) => context.driver.clientUrl(node));
  }

  async setup(): Promise<void> {}

  step(client: Client): Promise<Completion> {
    const url = client.random.pick(this.urls);
    const dice = client.random.next();
    if (dice < 0.5) return this.read(client, url);
    const expected = this.lastSeen.get(client.process);
    if (dice < 0.75 || expected === undefined) return this.write(client, url);
    return this.cas(client, url, expected);
  }

  async final(): Promise<void> {
    await performUntilOk(this.context, "final", { f: "read", key: KEY }, (url) => this.readValue(url, this.context.timeoutMs));
  }

  check(history: readonly HistoryEvent[]): Verdict {
    const result = checkHistory(history, registerModel, { timeoutMs: this.context.checkTimeoutMs });
    const anomalies = result.valid === false ? [{ kind: "not linearizable", detail: `key ${KEY}: ${result.operations} operations` }] : [];
    return { valid: result.valid, operations: result.operations, anomalies, text: formatReport(result) };
  }

  private read(client: Client, url: string): Promise<Completion> {
    return this.context.recorder.perform(client.process, { f: "read", key: KEY }, async () => {
      const completion = await this.readValue(url, client.timeoutMs);
      if (completion.type === "ok" && typeof completion.value === "number") this.lastSeen.set(client.process, completion.value);
      return completion;
    });
  }

  private async readValue(url: string, timeoutMs: number): Promise<Completion> {
    const value = await this.context.store.get(url, KEY, timeoutMs);
    return { type: "ok", value: value === undefined ? null : Number(value) };
  }

  private write(client: Client, url: string): Promise<Completion> {
    const value = this.nextValue++;
    return this.context.recorder.perform(client.process, { f: "write", key: KEY, value }, async () => {
      await this.context.store.put(url, KEY, String(value), client.timeoutMs);
      this.lastSeen.set(client.process, value);
      return { type: "ok" };
    });
  }

  private cas(client: Client, url: string, expected: number): Promise<Completion> {
    const value = this.nextValue++;
    return this.context.recorder.perform(client.process, { f: "cas", key: KEY, value: [expected, value] }, async () => {
      const result = await this.context.store.putIf(url, [{ key: KEY, target: "VALUE", value: String(expected) }], { [KEY]: String(value) }, client.timeoutMs);
      if (!result.succeeded) return { type: "fail", error: "compare failed" };
      this.lastSeen.set(client.process, value);
      return { type: "ok" };
    });
  }
}
