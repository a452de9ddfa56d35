/**
 * A workload is what clients do to the store during a run, and how to tell
 * from what they saw whether the store kept its promises.
 */
import type { HistoryEvent, Validity } from "../../checker/index.js";
import type { ClusterDriver, StatusCredentials } from "../cluster.js";
import type { Random } from "../random.js";
import type { Completion, OperationCall, Recorder } from "../recorder.js";
import { onAnyMember, type StoreApi } from "./store.js";

export interface WorkloadContext {
  readonly driver: ClusterDriver;
  readonly recorder: Recorder;
  /** The wire the workload's operations go over. */
  readonly store: StoreApi;
  readonly random: Random;
  /** How long the setup and final reads wait for one request. */
  readonly timeoutMs: number;
  /** How long the linearizability search may take. */
  readonly checkTimeoutMs: number;
}

/** One client process, bound to one member as Jepsen binds them. */
export interface Client {
  readonly process: number;
  readonly url: string;
  readonly random: Random;
  /** How long it waits for one request before recording it as `info`. */
  readonly timeoutMs: number;
}

export interface Anomaly {
  readonly kind: string;
  readonly detail: string;
}

export interface Verdict {
  readonly valid: Validity;
  /** How many operations the check looked at. */
  readonly operations: number;
  readonly anomalies: readonly Anomaly[];
  /** The checker's own account, when it has one worth showing. */
  readonly text?: string;
}

export interface Workload {
  /**
   * How long a client waits after an operation that did not succeed (100 ms
   * unless set), so that a client bound to a dead member does not hammer it.
   */
  readonly backoffMs?: number;
  /** Creates what the operations need (accounts, a start revision…), before any fault. */
  setup(): Promise<void>;
  /** One round of a client's work: one operation, or a few that belong together. */
  step(client: Client): Promise<Completion>;
  /** Work that runs beside the clients for the whole run, like watchers. */
  background?(signal: AbortSignal): Promise<void>;
  /** After the cluster is healed: the reads that settle what survived. */
  final(): Promise<void>;
  check(history: readonly HistoryEvent[]): Verdict;
  /** How the harness reads members' status once setup() turned auth on. */
  readonly statusCredentials?: StatusCredentials;
}

/** The verdict of a check that counts anomalies itself: valid exactly when there are none. */
export function verdictOf(operations: number, anomalies: readonly Anomaly[]): Verdict {
  return { valid: anomalies.length === 0, operations, anomalies };
}

/** An invocation and its completion, which is undefined when the history never completed it. */
export interface CompletedOperation {
  readonly invoke: HistoryEvent;
  readonly completion: HistoryEvent | undefined;
}

/** Operations of one function, invocation and completion paired by process (a process does one at a time). */
export function completedOperations(history: readonly HistoryEvent[], f: string): CompletedOperation[] {
  const pending = new Map<string, HistoryEvent>();
  const operations: CompletedOperation[] = [];
  for (const event of history) {
    if (event.f !== f) continue;
    const process = String(event.process);
    if (event.type === "invoke") {
      pending.set(process, event);
      continue;
    }
    const invoke = pending.get(process);
    if (invoke === undefined) continue;
    pending.delete(process);
    operations.push({ invoke, completion: event });
  }
  for (const invoke of pending.values()) operations.push({ invoke, completion: undefined });
  return operations;
}

/** Records `call` on member after member until it completes `ok`: for the final reads, which must happen. */
export async function performUntilOk(
  context: WorkloadContext,
  process: string,
  call: OperationCall,
  action: (url: string) => Promise<Completion>,
): Promise<Completion> {
  const urls = context.driver.nodes.map((node) => context.driver.clientUrl(node));
  return onAnyMember(urls, FINAL_DEADLINE_MS, async (url) => {
    const completion = await context.recorder.perform(process, call, () => action(url));
    if (completion.type !== "ok") throw new Error(completion.error);
    return completion;
  });
}

/** How long the cluster has, once healed, to answer the setup and the final reads. */
export const FINAL_DEADLINE_MS = 30_000;
