/**
 * A bank: accounts whose balances clients move between with transactions
 * (read both, then write both only if neither changed since). Money is
 * neither made nor lost, so every read of all accounts, during the run and
 * after it, must find the same total and no negative balance.
 */
import type { HistoryEvent, Value } from "../../checker/index.js";
import type { Completion } from "../recorder.js";
import { onAnyMember, type StoredKv } from "./store.js";
import {
  FINAL_DEADLINE_MS,
  completedOperations,
  performUntilOk,
  verdictOf,
  type Anomaly,
  type Client,
  type Verdict,
  type Workload,
  type WorkloadContext,
} from "./workload.js";

const PREFIX = "bank/";
const ACCOUNTS = 5;
const OPENING_BALANCE = 100;
const TOTAL = ACCOUNTS * OPENING_BALANCE;
const MAX_TRANSFER = 5;

export class BankWorkload implements Workload {
  constructor(private readonly context: WorkloadContext) {}

  /** Opens the accounts in one txn that only runs if they do not exist yet. */
  async setup(): Promise<void> {
    const urls = this.context.driver.nodes.map((node) => this.context.driver.clientUrl(node));
    const opening = Object.fromEntries(Array.from({ length: ACCOUNTS }, (_, i) => [account(i), String(OPENING_BALANCE)]));
    await onAnyMember(urls, FINAL_DEADLINE_MS, (url) =>
      this.context.store.putIf(url, [{ key: account(0), target: "CREATE", revision: 0 }], opening, this.context.timeoutMs),
    );
  }

  step(client: Client): Promise<Completion> {
    return client.random.next() < 0.2 ? this.read(client) : this.transfer(client);
  }

  async final(): Promise<void> {
    await performUntilOk(this.context, "final", { f: "read" }, (url) => this.readBalances(url, this.context.timeoutMs));
  }

  check(history: readonly HistoryEvent[]): Verdict {
    const reads = completedOperations(history, "read").filter((op) => op.completion?.type === "ok");
    const anomalies = reads.flatMap((op) => wrongBalances(op.completion!));
    return verdictOf(reads.length + completedOperations(history, "transfer").length, anomalies);
  }

  private read(client: Client): Promise<Completion> {
    return this.context.recorder.perform(client.process, { f: "read" }, () => this.readBalances(client.url, client.timeoutMs));
  }

  private async readBalances(url: string, timeoutMs: number): Promise<Completion> {
    const kvs = await this.context.store.rangePrefix(url, PREFIX, timeoutMs);
    return { type: "ok", value: Object.fromEntries(kvs.map((kv) => [kv.key.slice(PREFIX.length), Number(kv.value)])) };
  }

  /** Reads, picks two accounts and an amount the payer has, and commits only if both are as read. */
  private transfer(client: Client): Promise<Completion> {
    const [from, to] = client.random.shuffle(Array.from({ length: ACCOUNTS }, (_, i) => i));
    const amount = client.random.int(MAX_TRANSFER) + 1;
    return this.context.recorder.perform(client.process, { f: "transfer", value: { from: from!, to: to!, amount } }, async () => {
      const accounts = await this.context.store.rangePrefix(client.url, PREFIX, client.timeoutMs);
      const [payer, payee] = [find(accounts, account(from!)), find(accounts, account(to!))];
      if (Number(payer.value) < amount) return { type: "fail", error: "insufficient funds" };
      const compares = [payer, payee].map((kv) => ({ key: kv.key, target: "MOD", revision: kv.modRevision }) as const);
      const puts = { [payer.key]: String(Number(payer.value) - amount), [payee.key]: String(Number(payee.value) + amount) };
      const result = await this.context.store.putIf(client.url, compares, puts, client.timeoutMs);
      return result.succeeded ? { type: "ok" } : { type: "fail", error: "an account changed since it was read" };
    });
  }
}

function account(i: number): string {
  return `${PREFIX}${i}`;
}

function find(accounts: readonly StoredKv[], key: string): StoredKv {
  const kv = accounts.find((candidate) => candidate.key === key);
  if (kv === undefined) throw new Error(`account ${key} is missing`);
  return kv;
}

function wrongBalances(read: HistoryEvent): Anomaly[] {
  const balances = Object.entries((read.value ?? {}) as Readonly<Record<string, Value>>).map(([name, balance]) => [name, Number(balance)] as const);
  const total = balances.reduce((sum, [, balance]) => sum + balance, 0);
  const at = `the read completed at ${read.time} ms by process ${read.process}`;
  const anomalies: Anomaly[] = [];
  if (balances.length !== ACCOUNTS) anomalies.push({ kind: "missing account", detail: `${at} found ${balances.length} of ${ACCOUNTS} accounts` });
  if (total !== TOTAL)
    anomalies.push({ kind: "wrong total", detail: `${at} found a total of ${total}, not ${TOTAL}: ${JSON.stringify(Object.fromEntries(balances))}` });
  for (const [name, balance] of balances.filter(([, b]) => b < 0))
    anomalies.push({ kind: "negative balance", detail: `${at} found account ${name} at ${balance}` });
  return anomalies;
}
