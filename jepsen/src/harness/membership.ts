/**
 * Membership changes as an operator makes them, through the etcd API
 * (/v3/cluster/member/*) on the leader: remove a member, and later add it
 * back as a fresh one, a learner first, promoted once it has caught up.
 *
 * Each step is idempotent and confirmed from the member list, so a request
 * that timed out, or a leader that changed halfway, is simply tried again
 * until the deadline.
 */
import { findLeader, type ClusterDriver } from "./cluster.js";
import { postJson } from "./http.js";
import { waitFor } from "./wait.js";

interface ListedMember {
  readonly ID: string;
  readonly name?: string;
  readonly peerURLs: readonly string[];
  readonly isLearner?: boolean;
}

/** How long one membership step (remove, add, promote) may take, retries included. */
export const MEMBERSHIP_DEADLINE_MS = 30_000;
const REQUEST_TIMEOUT_MS = 2_000;

/** Removes `node` from the cluster; resolves once the leader no longer lists it. */
export async function removeMember(driver: ClusterDriver, node: string, signal?: AbortSignal): Promise<void> {
  await untilConfirmed(driver, node, "removed", signal, async (leaderUrl, listed) => {
    if (listed === undefined) return true;
    await postJson(leaderUrl, "/v3/cluster/member/remove", { ID: listed.ID }, REQUEST_TIMEOUT_MS);
    return false;
  });
}

/** Adds `node` back, by its peer URL, as a learner; resolves once the leader lists it. */
export async function addLearner(driver: ClusterDriver, node: string, signal?: AbortSignal): Promise<void> {
  await untilConfirmed(driver, node, "added as a learner", signal, async (leaderUrl, listed) => {
    if (listed !== undefined) return true;
    await postJson(leaderUrl, "/v3/cluster/member/add", { peerURLs: [driver.peerUrl(node)], isLearner: true }, REQUEST_TIMEOUT_MS);
    return false;
  });
}

/**
 * Promotes the learner `node` to voter. The leader refuses until the learner
 * has caught up, so this waits for that too.
 */
export async function promoteLearner(driver: ClusterDriver, node: string, signal?: AbortSignal): Promise<void> {
  await untilConfirmed(driver, node, "promoted to voter", signal, async (leaderUrl, listed) => {
    if (listed === undefined) throw new Error(`${node} is not a member`);
    if (listed.isLearner !== true) return true;
    await postJson(leaderUrl, "/v3/cluster/member/promote", { ID: listed.ID }, REQUEST_TIMEOUT_MS);
    return false;
  });
}

/** Whether every node of the driver is a voting member: the cluster is whole. */
export async function allVoters(driver: ClusterDriver): Promise<boolean> {
  const leaderUrl = await currentLeaderUrl(driver);
  const members = await listMembers(leaderUrl);
  return driver.nodes.every((node) => {
    const listed = listing(members, driver, node);
    return listed !== undefined && listed.isLearner !== true;
  });
}

/**
 * Repeats `step` on the current leader, given how the leader lists `node`,
 * until it returns true (done) or the deadline passes.
 */
async function untilConfirmed(
  driver: ClusterDriver,
  node: string,
  outcome: string,
  signal: AbortSignal | undefined,
  step: (leaderUrl: string, listed: ListedMember | undefined) => Promise<boolean>,
): Promise<void> {
  await waitFor(
    `${node} to be ${outcome}`,
    async () => {
      const leaderUrl = await currentLeaderUrl(driver);
      const listed = listing(await listMembers(leaderUrl), driver, node);
      return (await step(leaderUrl, listed)) ? true : undefined;
    },
    MEMBERSHIP_DEADLINE_MS,
    signal,
  );
}

async function currentLeaderUrl(driver: ClusterDriver): Promise<string> {
  const leader = await findLeader(driver);
  if (leader === undefined) throw new Error("no leader answers");
  return driver.clientUrl(leader);
}

/** How `members` lists `node`, known by its peer URL. */
function listing(members: readonly ListedMember[], driver: ClusterDriver, node: string): ListedMember | undefined {
  return members.find((member) => member.peerURLs.includes(driver.peerUrl(node)));
}

async function listMembers(url: string): Promise<ListedMember[]> {
  const reply = await postJson<{ members?: ListedMember[] }>(url, "/v3/cluster/member/list", {}, REQUEST_TIMEOUT_MS);
  return reply.members ?? [];
}
