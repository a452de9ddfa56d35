/**
 * Cluster operations for tests, through the etcd gateway: member ids by
 * peer URL, requests to the leader, and etcd's error for a refused request.
 */
import assert from "node:assert/strict";
import { HttpError, postJson, waitFor, type ClusterMember, type ProcessCluster } from "./process-cluster.js";

/**
 * The member's id as another member's member list reports it, once that
 * member has applied the member's addition (it may lag the leader a little).
 */
export async function memberId(cluster: ProcessCluster, member: ClusterMember): Promise<string> {
  const other = cluster.running().find((candidate) => candidate !== member) ?? member;
  return waitFor(`${other.name} to list ${member.name} as a member`, async () => {
    const list = await postJson(other.clientUrl, "/v3/cluster/member/list", {});
    return (list.members as { ID: string; peerURLs: string[] }[]).find((entry) => entry.peerURLs.includes(member.peerUrl))?.ID;
  });
}

export async function onLeader(cluster: ProcessCluster, path: string, body: unknown): Promise<Record<string, unknown>> {
  const leader = await cluster.waitForLeader();
  return postJson(leader.clientUrl, path, body);
}

/** Asserts that the request is refused with etcd's `message`. */
export async function assertRefused(request: Promise<unknown>, message: string): Promise<void> {
  await assert.rejects(request, (error: unknown) => {
    assert.ok(error instanceof HttpError, `expected a refusal, got ${String(error)}`);
    assert.equal(error.body.error, message);
    return true;
  });
}

/** A member's gauge or counter, as its /metrics reports it. */
export async function metric(member: ClusterMember, series: string): Promise<number | undefined> {
  const text = await (await fetch(`${member.clientUrl}/metrics`)).text();
  const line = text.split("\n").find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/** What a member's /health answers. */
export async function health(member: ClusterMember): Promise<{ status: number; health: string; reason: string }> {
  const response = await fetch(`${member.clientUrl}/health`);
  const body = (await response.json()) as { health: string; reason: string };
  return { status: response.status, ...body };
}
