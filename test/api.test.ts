/**
 * The HTTP APIs end to end on a real 3-node cluster: watches (etcd stream and
 * SSE), lease expiry driven by the leader, locks with fencing tokens,
 * elections, membership, metrics, and the SIGTERM hand-off of leadership.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { ProcessCluster, b64, postJson, unb64, waitFor, waitForRevision } from "./support/process-cluster.js";

interface WatchedPut {
  readonly kv: { readonly value: string };
  readonly prev_kv?: { readonly value: string };
}

let cluster: ProcessCluster;
const url = (i = 0) => cluster.members[i]!.clientUrl;

/** Reads a streaming response line by line until `enough` says stop. */
async function readStream(response: Response, enough: (lines: string[]) => boolean, timeoutMs = 10_000): Promise<string[]> {
  const reader = response.body!.getReader();
  const lines: string[] = [];
  let buffered = "";
  const deadline = Date.now() + timeoutMs;
  while (!enough(lines)) {
    if (Date.now() > deadline) throw new Error(`stream ended early: ${lines.join("\n")}`);
    const { value, done } = await reader.read();
    if (done) break;
    buffered += new TextDecoder().decode(value);
    const parts = buffered.split("\n");
    buffered = parts.pop() ?? "";
    lines.push(...parts.filter((line) => line.trim() !== ""));
  }
  await reader.cancel();
  return lines;
}

describe("HTTP APIs on a real cluster", () => {
  before(async () => {
    cluster = await ProcessCluster.start({ size: 3 });
  });
  after(async () => cluster?.stop());

  test("an etcd watch streams history and live events in order", async () => {
    const first = await postJson(url(), "/v3/kv/put", { key: b64("w/a"), value: b64("1") });
    const from = Number((first.header as { revision: string }).revision);
    const watch = await fetch(`${url(1)}/v3/watch`, {
      method: "POST",
      body: JSON.stringify({ create_request: { key: b64("w/"), range_end: b64("w0"), start_revision: from } }),
    });
    const lines = readStream(watch, (seen) => seen.filter((line) => line.includes("events")).length >= 2);
    await postJson(url(2), "/v3/kv/put", { key: b64("w/b"), value: b64("2") });
    const events = (await lines)
      .map((line) => JSON.parse(line) as { result: { events?: { kv: { key: string; mod_revision: string } }[] } })
      .flatMap((message) => message.result.events ?? []);
    assert.deepEqual(
      events.map((event) => unb64(event.kv.key)),
      ["w/a", "w/b"],
    );
    assert.ok(Number(events[1]!.kv.mod_revision) > Number(events[0]!.kv.mod_revision));
  });

  test("live watch events carry the previous key-value for a watch that asked for it, and only for it", async () => {
    const first = await postJson(url(), "/v3/kv/put", { key: b64("pw/k"), value: b64("old") });
    // Watches without a start revision begin at the watching member's own
    // revision: once it has applied `old`, the next event is the live `new`.
    await waitForRevision(url(1), Number((first.header as { revision: string }).revision));
    const watch = (prevKv: boolean) =>
      fetch(`${url(1)}/v3/watch`, { method: "POST", body: JSON.stringify({ create_request: { key: b64("pw/k"), prev_kv: prevKv } }) });
    // The response starts once the watch is subscribed.
    const streams = [await watch(true), await watch(false)];
    const firstEvent = streams.map((stream) => readStream(stream, (seen) => seen.some((line) => line.includes("events"))));
    await postJson(url(2), "/v3/kv/put", { key: b64("pw/k"), value: b64("new") });
    const [asked, notAsked] = await Promise.all(
      firstEvent.map(async (lines) => {
        const messages = (await lines).map((line) => JSON.parse(line) as { result: { events?: WatchedPut[] } });
        const events = messages.flatMap((message) => message.result.events ?? []);
        assert.deepEqual(
          events.map((event) => unb64(event.kv.value)),
          ["new"],
          "the first event is the live put",
        );
        return events[0]!;
      }),
    );
    assert.equal(unb64(asked!.prev_kv?.value ?? ""), "old");
    assert.equal(notAsked!.prev_kv, undefined);
  });

  test("an SSE watch on the native API replays from a revision, then follows puts made elsewhere", async () => {
    const put = await fetch(`${url(1)}/v1/kv/sse-key`, { method: "PUT", body: "hello" });
    const { revision } = (await put.json()) as { revision: number };
    const stream = await fetch(`${url(0)}/v1/watch/sse-key?revision=${revision}`);
    assert.equal(stream.headers.get("content-type")?.split(";")[0], "text/event-stream");
    const lines = readStream(stream, (seen) => seen.filter((line) => line.startsWith("data:")).length >= 2);
    await fetch(`${url(2)}/v1/kv/sse-key`, { method: "PUT", body: "again" });
    const data = (await lines).filter((line) => line.startsWith("data:"));
    assert.match(data[0]!, /hello/);
    assert.match(data[1]!, /again/);
  });

  test("a lease expires on the leader's clock and takes its keys with it", async () => {
    const grant = await postJson(url(), "/v3/lease/grant", { TTL: 2 });
    const id = grant.ID as string;
    await postJson(url(1), "/v3/kv/put", { key: b64("leased"), value: b64("x"), lease: id });
    const ttl = await postJson(url(2), "/v3/lease/timetolive", { ID: id, keys: true });
    assert.deepEqual((ttl.keys as string[]).map(unb64), ["leased"]);
    await waitFor(
      "the lease to expire",
      async () => {
        const range = await postJson(url(2), "/v3/kv/range", { key: b64("leased") });
        return range.kvs === undefined;
      },
      10_000,
    );
    const after = await postJson(url(), "/v3/lease/timetolive", { ID: id });
    assert.equal(after.TTL, "-1");
  });

  test("a kept-alive lease outlives its TTL", async () => {
    const id = (await postJson(url(), "/v3/lease/grant", { TTL: 2 })).ID as string;
    await postJson(url(), "/v3/kv/put", { key: b64("kept"), value: b64("x"), lease: id });
    const until = Date.now() + 4_000;
    while (Date.now() < until) {
      await postJson(url(1), "/v3/lease/keepalive", { ID: id });
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    const range = await postJson(url(2), "/v3/kv/range", { key: b64("kept") });
    assert.equal((range.kvs as unknown[]).length, 1);
  });

  test("locks are exclusive and hand out increasing fencing tokens", async () => {
    const first = await fetch(`${url(0)}/v1/locks/job?ttl=10`, { method: "POST" });
    const held = (await first.json()) as { key: string; token: number | string };
    let secondDone = false;
    const second = fetch(`${url(1)}/v1/locks/job?ttl=10`, { method: "POST" }).then(async (response) => {
      secondDone = true;
      return (await response.json()) as { key: string; token: number | string };
    });
    // Once the second caller's key is queued behind the first, it must be waiting.
    await waitFor("the second caller to queue", async () => {
      const queued = await postJson(url(2), "/v3/kv/range", { key: b64("job/"), range_end: b64("job0"), count_only: true });
      return Number(queued.count) === 2;
    });
    assert.equal(secondDone, false, "the second caller waits while the lock is held");
    await fetch(`${url(2)}/v1/locks/job?key=${encodeURIComponent(held.key)}`, { method: "DELETE" });
    const next = await second;
    assert.ok(Number(next.token) > Number(held.token), "the next holder's fencing token is larger");
  });

  test("an election names its leader and hands over on resign", async () => {
    const lease = (await postJson(url(), "/v3/lease/grant", { TTL: 10 })).ID as string;
    const campaign = await postJson(url(), "/v3/election/campaign", { name: b64("primary"), lease, value: b64("node-a") });
    const leader = await postJson(url(1), "/v3/election/leader", { name: b64("primary") });
    assert.equal(unb64((leader.kv as { value: string }).value), "node-a");
    await postJson(url(), "/v3/election/resign", { leader: campaign.leader });
    await waitFor("no leader after resign", async () => {
      try {
        await postJson(url(1), "/v3/election/leader", { name: b64("primary") });
        return false;
      } catch {
        return true;
      }
    });
  });

  test("members, status and metrics describe the cluster", async () => {
    const list = await postJson(url(), "/v3/cluster/member/list", {});
    const members = list.members as { name: string; clientURLs?: string[] }[];
    assert.deepEqual(members.map((member) => member.name).sort(), ["n1", "n2", "n3"]);
    await waitFor("client URLs published", async () => {
      const again = (await postJson(url(), "/v3/cluster/member/list", {})).members as { clientURLs?: string[] }[];
      return again.every((member) => (member.clientURLs ?? []).length === 1);
    });
    const metrics = await (await fetch(`${url()}/metrics`)).text();
    for (const name of ["raftkv_term", "raftkv_proposals_total", "raftkv_wal_fsync_duration_seconds", "raftkv_http_request_duration_seconds"]) {
      assert.match(metrics, new RegExp(`^${name}`, "m"));
    }
  });

  test("SIGTERM on the leader hands leadership over before it stops", async () => {
    const leader = await cluster.waitForLeader();
    const termBefore = Number((await postJson(leader.clientUrl, "/v3/maintenance/status", {})).raftTerm as string);
    await cluster.kill(leader.name, "SIGTERM");
    assert.match(leader.output.join(""), /handed leadership over/);
    const next = await cluster.waitForLeader(5_000);
    assert.notEqual(next, leader);
    const status = await postJson(next.clientUrl, "/v3/maintenance/status", {});
    assert.ok(Number(status.raftTerm) > termBefore, "the successor leads a later term");
  });
});
