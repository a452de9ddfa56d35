/**
 * Routing of leader-only requests when leadership moves under them: real
 * HTTP members that answer as a leader or as a former one would.
 */
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { test } from "node:test";
import { etcdError } from "../src/errors.js";
import { FORWARDED_HEADER, askLeader } from "../src/http/leader-forward.js";

interface FakeMember {
  readonly url: string;
  /** The forwarded-mark of every request it was sent. */
  readonly marks: (string | undefined)[];
}

/** A member that answers every request with `status` and `body`. */
async function member(t: { after: (fn: () => void) => void }, status: number, body: unknown): Promise<FakeMember> {
  const marks: (string | undefined)[] = [];
  const server: Server = createServer((request, response) => {
    marks.push(request.headers[FORWARDED_HEADER] as string | undefined);
    request.resume().on("end", () => response.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body)));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.after(() => server.close());
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, marks };
}

/** Hands out the given leader URLs one per call, repeating the last. */
function leadersInTurn(...urls: (string | undefined)[]): () => Promise<string | undefined> {
  let call = 0;
  return async () => urls[Math.min(call++, urls.length - 1)];
}

const notLeaderBody = etcdError("notLeader").toJSON();
const refuseHere = async (): Promise<never> => {
  throw new Error("this member was not the leader");
};

test("a request the presumed leader refuses as 'not leader' goes on to the new leader, marked as forwarded", async (t) => {
  const former = await member(t, 400, notLeaderBody);
  const current = await member(t, 200, { header: { revision: "7" } });
  const answer = await askLeader({ locateLeader: leadersInTurn(former.url, current.url), answerHere: refuseHere, path: "/v3/x", body: {} });
  assert.deepEqual(answer, { forwarded: { status: 200, body: JSON.stringify({ header: { revision: "7" } }) } });
  assert.deepEqual([former.marks, current.marks], [["1"], ["1"]]);
});

test("a member that stopped leading between locating and answering asks the new leader", async (t) => {
  const current = await member(t, 200, { ok: true });
  let answeredHere = 0;
  const answerHere = async (): Promise<never> => {
    answeredHere++;
    throw etcdError("notLeader");
  };
  const answer = await askLeader({ locateLeader: leadersInTurn(undefined, current.url), answerHere, path: "/v3/x", body: {} });
  assert.deepEqual(answer, { forwarded: { status: 200, body: JSON.stringify({ ok: true }) } });
  assert.equal(answeredHere, 1);
});

test("the leader's other refusals reach the client as they are, asked once", async (t) => {
  const refusal = etcdError("learnerNotReady").toJSON();
  const leader = await member(t, 400, refusal);
  const answer = await askLeader({ locateLeader: leadersInTurn(leader.url), answerHere: refuseHere, path: "/v3/x", body: {} });
  assert.deepEqual(answer, { forwarded: { status: 400, body: JSON.stringify(refusal) } });
  assert.equal(leader.marks.length, 1);
});

test("errors other than 'not leader' from this member are not retried", async () => {
  let answeredHere = 0;
  const answerHere = async (): Promise<never> => {
    answeredHere++;
    throw etcdError("notEnoughStartedMembers");
  };
  await assert.rejects(askLeader({ locateLeader: leadersInTurn(undefined), answerHere, path: "/v3/x", body: {} }), {
    message: etcdError("notEnoughStartedMembers").message,
  });
  assert.equal(answeredHere, 1);
});
