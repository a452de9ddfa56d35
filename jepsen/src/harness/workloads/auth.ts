/**
 * Auth under faults: a user adds unique elements under a prefix that a role
 * lets it write, while an administrator keeps revoking and granting that
 * role, and the nemesis does its worst. Once the cluster is healed, root
 * reads what is there. No acknowledged add may be missing; no add the store
 * refused with "permission denied" may be there; and no add may have taken
 * effect while the user surely held no permission: between a revocation's
 * acknowledgement and the next grant's request (the administrator does one
 * change at a time, so those windows are known exactly).
 *
 * It speaks the etcd v3 gateway with tokens in the Authorization header,
 * which etcd serves too.
 */
import type { HistoryEvent, Value } from "../../checker/index.js";
import type { StatusCredentials } from "../cluster.js";
import { HttpStatusError, b64, postJson, unb64 } from "../http.js";
import type { Completion } from "../recorder.js";
import { delay } from "../wait.js";
import { onAnyMember, prefixEnd } from "./store.js";
import {
  FINAL_DEADLINE_MS,
  completedOperations,
  performUntilOk,
  verdictOf,
  type Anomaly,
  type Client,
  type CompletedOperation,
  type Verdict,
  type Workload,
  type WorkloadContext,
} from "./workload.js";

const PREFIX = "auth/";
const ROLE = "writer";
const USER = { name: "alice", password: "alice-secret" };
const ROOT = { name: "root", password: "root-secret" };
/** The administrator's pace: a change of permission every 200–600 ms. */
const CHANGE_EVERY_MS = [200, 600] as const;
const ADMIN = "admin";

type Credentials = typeof USER;

export class AuthWorkload implements Workload {
  private nextElement = 0;
  private readonly tokens = new Map<string, Promise<string>>();

  readonly statusCredentials: StatusCredentials = {
    authorization: () => this.token(ROOT),
    refused: () => this.tokens.delete(ROOT.name),
  };

  constructor(private readonly context: WorkloadContext) {}

  /** Root, the role, the user holding it, then auth on: before any fault. */
  async setup(): Promise<void> {
    const urls = this.urls();
    const perm = { key: b64(PREFIX), range_end: b64(prefixEnd(PREFIX)), permType: "READWRITE" };
    const steps: [string, object][] = [
      ["/v3/auth/user/add", { name: ROOT.name, password: ROOT.password }],
      ["/v3/auth/user/grant", { user: ROOT.name, role: "root" }],
      ["/v3/auth/role/add", { name: ROLE }],
      ["/v3/auth/role/grant", { name: ROLE, perm }],
      ["/v3/auth/user/add", { name: USER.name, password: USER.password }],
      ["/v3/auth/user/grant", { user: USER.name, role: ROLE }],
      ["/v3/auth/enable", {}],
    ];
    for (const [path, body] of steps) {
      await onAnyMember(urls, FINAL_DEADLINE_MS, (url) => call(url, path, body, undefined, this.context.timeoutMs).catch(unlessAlreadyDone));
    }
  }

  step(client: Client): Promise<Completion> {
    const element = this.nextElement++;
    return this.context.recorder.perform(client.process, { f: "add", value: element }, async () => {
      const body = { key: b64(`${PREFIX}${String(element).padStart(9, "0")}`), value: b64(String(element)) };
      const answer = await this.asUser(USER, (token) => call(client.url, "/v3/kv/put", body, token, client.timeoutMs));
      return { type: "ok", value: answer === DENIED ? "denied" : "added" };
    });
  }

  /** The administrator: revokes the role, grants it back, and so on, one change at a time. */
  async background(signal: AbortSignal): Promise<void> {
    const random = this.context.random.fork();
    for (let grant = false; !signal.aborted; grant = !grant) {
      await delay(CHANGE_EVERY_MS[0] + random.int(CHANGE_EVERY_MS[1] - CHANGE_EVERY_MS[0]), signal).catch(() => undefined);
      if (signal.aborted) return;
      const urls = this.urls();
      const url = urls[random.int(urls.length)]!;
      const [path, body] = grant ? ["/v3/auth/user/grant", { user: USER.name, role: ROLE }] : ["/v3/auth/user/revoke", { name: USER.name, role: ROLE }];
      await this.context.recorder.perform(ADMIN, { f: grant ? "grant" : "revoke" }, async () => {
        await this.asUser(ROOT, (token) => call(url, path, body, token, this.context.timeoutMs));
        return { type: "ok" };
      });
    }
  }

  async final(): Promise<void> {
    await performUntilOk(this.context, "final", { f: "read" }, async (url) => {
      const body = { key: b64(PREFIX), range_end: b64(prefixEnd(PREFIX)) };
      const reply = (await this.asUser(ROOT, (token) => call(url, "/v3/kv/range", body, token, this.context.timeoutMs * 4))) as RangeReply;
      return { type: "ok", value: (reply.kvs ?? []).map((kv) => Number(unb64(kv.value ?? ""))) };
    });
  }

  check(history: readonly HistoryEvent[]): Verdict {
    const adds = completedOperations(history, "add");
    const finalRead = completedOperations(history, "read").findLast((op) => op.completion?.type === "ok")?.completion?.value;
    if (!Array.isArray(finalRead)) return { valid: "unknown", operations: adds.length, anomalies: [], text: "no final read completed" };
    const present = new Set<Value | undefined>(finalRead as readonly Value[]);
    const revoked = revokedWindows(history);
    const anomalies: Anomaly[] = [];
    const outcome = (op: CompletedOperation): Value | undefined => (op.completion?.type === "ok" ? op.completion.value : undefined);
    const report = (kind: string, what: string, ops: readonly CompletedOperation[]): void => {
      if (ops.length > 0)
        anomalies.push({
          kind,
          detail: `${ops.length} ${what}: ${ops
            .slice(0, 20)
            .map((op) => String(op.invoke.value))
            .join(", ")}`,
        });
    };
    report(
      "lost",
      "acknowledged adds missing from the final read",
      adds.filter((op) => outcome(op) === "added" && !present.has(op.invoke.value)),
    );
    report(
      "denied but applied",
      "adds refused with permission denied, yet present",
      adds.filter((op) => outcome(op) === "denied" && present.has(op.invoke.value)),
    );
    const withoutPermission = adds.filter((op) => (outcome(op) === "added" || present.has(op.invoke.value)) && within(op, revoked));
    report("applied without permission", "adds acknowledged or present though made wholly while the role was revoked", withoutPermission);
    return verdictOf(adds.length + 1, anomalies);
  }

  private urls(): string[] {
    return this.context.driver.nodes.map((node) => this.context.driver.clientUrl(node));
  }

  /**
   * Runs `request` with a token of `who`; a token the store no longer takes
   * (a restarted member lost it) is dropped, and the request fails without
   * effect, so that the next one authenticates again.
   */
  private async asUser(who: Credentials, request: (token: string) => Promise<unknown>): Promise<unknown> {
    try {
      return await request(await this.token(who));
    } catch (error) {
      if (error instanceof HttpStatusError && error.body.includes("invalid auth token")) this.tokens.delete(who.name);
      throw error;
    }
  }

  /** A token of `who`, authenticating on the first member that answers if there is none yet. */
  private token(who: Credentials): Promise<string> {
    let token = this.tokens.get(who.name);
    if (token === undefined) {
      token = authenticate(this.urls(), who, this.context.timeoutMs);
      this.tokens.set(who.name, token);
      token.catch(() => this.tokens.delete(who.name));
    }
    return token;
  }
}

interface RangeReply {
  readonly kvs?: readonly { readonly value?: string }[];
}

/** What a put refused for want of permission answers: surely without effect. */
const DENIED = Symbol("denied");

/** A gateway call with `token` in the Authorization header, as etcd's gateway takes it. */
async function call(url: string, path: string, body: object, token: string | undefined, timeoutMs: number): Promise<unknown> {
  try {
    return await postJson(url, path, body, timeoutMs, token);
  } catch (error) {
    if (error instanceof HttpStatusError && error.body.includes("permission denied") && path === "/v3/kv/put") return DENIED;
    throw error;
  }
}

/** A token from the first member that answers. */
async function authenticate(urls: readonly string[], { name, password }: Credentials, timeoutMs: number): Promise<string> {
  let lastError: unknown;
  for (const url of urls) {
    try {
      return ((await call(url, "/v3/auth/authenticate", { name, password }, undefined, timeoutMs)) as { token: string }).token;
    } catch (error) {
      lastError = error;
    }
  }
  throw lastError;
}

/** The setup may be retried after an answer was lost: what it already did is fine. */
function unlessAlreadyDone(error: unknown): void {
  if (error instanceof HttpStatusError && /already exists|already granted|is already enabled/.test(error.body)) return;
  throw error;
}

/** From each acknowledged revocation until the next change of permission was asked for. */
function revokedWindows(history: readonly HistoryEvent[]): [from: number, to: number][] {
  const changes = history.filter((event) => event.process === ADMIN);
  const windows: [number, number][] = [];
  for (let i = 0; i < changes.length; i++) {
    const event = changes[i]!;
    if (event.f !== "revoke" || event.type !== "ok") continue;
    const nextRequest = changes.slice(i + 1).find((later) => later.type === "invoke");
    windows.push([event.time ?? Number.POSITIVE_INFINITY, nextRequest?.time ?? Number.POSITIVE_INFINITY]);
  }
  return windows;
}

/** Whether the operation ran wholly inside one window (one never completed runs to the end of time). */
function within({ invoke, completion }: CompletedOperation, windows: readonly [number, number][]): boolean {
  const end = (completion?.type === "ok" || completion?.type === "fail" ? completion.time : undefined) ?? Number.POSITIVE_INFINITY;
  const start = invoke.time ?? Number.NEGATIVE_INFINITY;
  return windows.some(([from, to]) => start >= from && end <= to);
}
