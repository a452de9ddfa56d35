/**
 * What only the leader may decide (membership changes, leadership transfer)
 * is forwarded to it when another member leads, as etcd forwards a learner
 * promotion: a client may ask any member. A forwarded request is marked and
 * never forwarded again, so a leadership change meanwhile cannot bounce it
 * around; the member it reached answers "not leader" instead, and the member
 * the client asked looks for the new leader and asks again.
 */
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { setTimeout as sleep } from "node:timers/promises";
import type { FastifyInstance, RouteHandlerMethod } from "fastify";
import { etcdError, isEtcdError } from "../errors.js";
import type { MemberClientTls } from "./tls.js";

declare module "fastify" {
  interface FastifyContextConfig {
    /** Only the leader answers this route: on another member the request goes to the leader (forwardLeaderOnlyRoutes). */
    leaderOnly?: boolean;
  }
}

export const FORWARDED_HEADER = "x-raftkv-forwarded";

/** Longer than the leader takes to apply a change or finish a transfer (both bounded by the request timeout). */
const FORWARD_TIMEOUT_MS = 10_000;

/** How long a request follows leadership around before "not leader" reaches the client: a few elections. */
const FOLLOW_LEADER_MS = 5_000;

/** A member goes on naming the old leader until it hears from the new one; this is how often we look again. */
const LOOK_AGAIN_MS = 50;

const NOT_LEADER = etcdError("notLeader").message;

export interface ForwardedReply {
  readonly status: number;
  /** The leader's JSON reply, passed on as it is. */
  readonly body: string;
}

export type LeaderAnswer<T> = { readonly here: T } | { readonly forwarded: ForwardedReply };

export interface LeaderRoute<T> {
  /** The leader's client URL, or undefined when this member leads. */
  readonly locateLeader: () => Promise<string | undefined>;
  /** Answers the request on this member, which leads. */
  readonly answerHere: () => Promise<T>;
  readonly path: string;
  readonly body: unknown;
  /** The request's Authorization header, passed on so that the leader checks the same credentials. */
  readonly authorization?: string;
  /** How to reach an https:// leader (see MemberClientTls). */
  readonly tls?: MemberClientTls;
}

/**
 * Within a plugin, before its routes: every route whose config says
 * `leaderOnly` is answered here when this member leads (or the request was
 * forwarded to it already), else on the leader, whose reply passes through.
 */
export function forwardLeaderOnlyRoutes(app: FastifyInstance, locateLeader: () => Promise<string | undefined>, tls?: MemberClientTls): void {
  app.addHook("onRoute", (route) => {
    if (!route.config?.leaderOnly) return;
    const handleHere = route.handler;
    const path = route.url;
    const handler: RouteHandlerMethod = async function (request, reply) {
      const answerHere = async (): Promise<unknown> => handleHere.call(this, request, reply);
      if (request.headers[FORWARDED_HEADER] !== undefined) return answerHere();
      const authorization = request.headers.authorization;
      const answer = await askLeader({
        locateLeader,
        answerHere,
        path,
        body: request.body,
        ...(authorization ? { authorization } : {}),
        ...(tls ? { tls } : {}),
      });
      if ("here" in answer) return answer.here;
      return reply.status(answer.forwarded.status).type("application/json").send(answer.forwarded.body);
    };
    route.handler = handler;
  });
}

/**
 * Answers a leader-only request here or on the leader. "Not leader" is
 * decided before anything is proposed, so when leadership moves between
 * locating the leader and asking it, asking the next leader is safe.
 */
export async function askLeader<T>(route: LeaderRoute<T>): Promise<LeaderAnswer<T>> {
  const deadline = Date.now() + FOLLOW_LEADER_MS;
  for (;;) {
    const answer = await askPresumedLeader(route);
    if (answer !== undefined) return answer;
    if (Date.now() >= deadline) throw etcdError("notLeader");
    await sleep(LOOK_AGAIN_MS);
  }
}

/** One attempt; undefined when the member taken for the leader no longer leads. */
async function askPresumedLeader<T>(route: LeaderRoute<T>): Promise<LeaderAnswer<T> | undefined> {
  const leaderUrl = await route.locateLeader();
  if (leaderUrl !== undefined) {
    const forwarded = await forwardToLeader(leaderUrl, route);
    return refusedAsNotLeader(forwarded) ? undefined : { forwarded };
  }
  try {
    return { here: await route.answerHere() };
  } catch (error) {
    if (isEtcdError(error, "notLeader")) return undefined;
    throw error;
  }
}

function refusedAsNotLeader(reply: ForwardedReply): boolean {
  if (reply.status < 400) return false;
  try {
    return (JSON.parse(reply.body) as { error?: unknown }).error === NOT_LEADER;
  } catch {
    return false;
  }
}

async function forwardToLeader(leaderUrl: string, { path, body, authorization, tls }: LeaderRoute<unknown>): Promise<ForwardedReply> {
  const headers = { [FORWARDED_HEADER]: "1", "content-type": "application/json", ...(authorization ? { authorization } : {}) };
  try {
    return await postOnce(new URL(`${leaderUrl}${path}`), headers, JSON.stringify(body ?? {}), tls);
  } catch {
    // The leader went away (or stopped answering) while we asked it.
    throw etcdError("leaderChanged");
  }
}

/** One POST with node's own clients, which take this member's TLS options for an https:// leader. */
function postOnce(url: URL, headers: Record<string, string>, body: string, tls: MemberClientTls | undefined): Promise<ForwardedReply> {
  return new Promise((resolve, reject) => {
    const options = { method: "POST", headers, timeout: FORWARD_TIMEOUT_MS, ...(url.protocol === "https:" ? tls : {}) };
    const request = (url.protocol === "https:" ? httpsRequest : httpRequest)(url, options, (response) => {
      const chunks: Buffer[] = [];
      response.on("data", (chunk: Buffer) => chunks.push(chunk));
      response.on("end", () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
      response.on("error", reject);
    });
    request.on("timeout", () => request.destroy(new Error("the leader did not answer in time")));
    request.on("error", reject);
    request.end(body);
  });
}
