/**
 * A set: clients add unique elements, each as its own key, and once the
 * cluster is healed one read lists them all. Every acknowledged add must be
 * there (nothing lost), and nothing must be there that no one added. Adds
 * that ended in doubt may go either way.
 */
import type { HistoryEvent, Value } from "../../checker/index.js";
import type { Completion } from "../recorder.js";
import { completedOperations, performUntilOk, verdictOf, type Anomaly, type Client, type Verdict, type Workload, type WorkloadContext } from "./workload.js";

const PREFIX = "set/";
/** How many elements an anomaly's message lists before it says "and N more". */
const LISTED = 20;

export class SetWorkload implements Workload {
  private nextElement = 0;

  constructor(private readonly context: WorkloadContext) {}

  async setup(): Promise<void> {}

  step(client: Client): Promise<Completion> {
    const element = this.nextElement++;
    return this.context.recorder.perform(client.process, { f: "add", value: element }, async () => {
      await this.context.store.put(client.url, `${PREFIX}${String(element).padStart(9, "0")}`, String(element), client.timeoutMs);
      return { type: "ok" };
    });
  }

  async final(): Promise<void> {
    await performUntilOk(this.context, "final", { f: "read" }, async (url) => {
      const kvs = await this.context.store.rangePrefix(url, PREFIX, this.context.timeoutMs * 4);
      return { type: "ok", value: kvs.map((kv) => Number(kv.value)) };
    });
  }

  check(history: readonly HistoryEvent[]): Verdict {
    const adds = completedOperations(history, "add");
    const finalRead = completedOperations(history, "read").findLast((op) => op.completion?.type === "ok")?.completion?.value;
    if (!Array.isArray(finalRead)) return { valid: "unknown", operations: adds.length, anomalies: [], text: "no final read completed" };
    const present = new Set<Value | undefined>(finalRead as readonly Value[]);
    const attempted = new Set(adds.map((op) => op.invoke.value));
    const acknowledged = adds.filter((op) => op.completion?.type === "ok").map((op) => op.invoke.value);
    const anomalies: Anomaly[] = [];
    const lost = acknowledged.filter((element) => !present.has(element));
    if (lost.length > 0) anomalies.push({ kind: "lost", detail: `${lost.length} acknowledged adds missing from the final read: ${listed(lost)}` });
    const unexpected = [...present].filter((element) => !attempted.has(element));
    if (unexpected.length > 0) anomalies.push({ kind: "unexpected", detail: `${unexpected.length} elements no one added: ${listed(unexpected)}` });
    return verdictOf(adds.length + 1, anomalies);
  }
}

function listed(elements: readonly (Value | undefined)[]): string {
  const shown = elements.slice(0, LISTED).map(String).join(", ");
  return elements.length > LISTED ? `${shown} and ${elements.length - LISTED} more` : shown;
}
