/**
 * How fast and how precisely a dead peer is reported: a real peer process
 * killed with SIGKILL, a closed port, and a peer that accepts but never
 * answers; and that a stalled event loop is not mistaken for a silent peer.
 */
import assert from "node:assert/strict";
import { fork } from "node:child_process";
import { once } from "node:events";
import { connect, createServer, type AddressInfo, type Socket } from "node:net";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";
import { dial, FramedSocket } from "../src/framed-socket.js";
import { PROTOCOL_VERSION, isPeerDown } from "../src/index.js";
import { CLUSTER, LOOPBACK, connectedTo, startMember, stopAll, waitFor, type PeerEvent, type TestMember } from "./support/harness.js";

const running: TestMember[] = [];
after(() => stopAll(...running));

const PEER_PROCESS = fileURLToPath(new URL("./support/peer-process.js", import.meta.url));

function unreachableEvents(member: TestMember): Extract<PeerEvent, { kind: "unreachable" }>[] {
  return member.events.filter((e) => e.kind === "unreachable");
}

test("a peer process killed with SIGKILL is reported down at once, as a reset", async () => {
  const a = await startMember(1);
  running.push(a);
  const child = fork(PEER_PROCESS, [JSON.stringify({ clusterId: CLUSTER, memberId: 2, peers: [[1, a.address.port]] })], { stdio: "ignore" });
  try {
    const [ready] = (await once(child, "message")) as [{ port: number }];
    a.transport.addPeer(2, { host: "127.0.0.1", port: ready.port });
    await waitFor("the link to the child", () => connectedTo(a, 2));

    child.kill("SIGKILL");
    await waitFor("the outage report", () => unreachableEvents(a).length > 0);
    const [report] = unreachableEvents(a);
    assert.equal(report?.peer, 2);
    assert.ok(report && isPeerDown(report.failure), `classified as down: ${JSON.stringify(report?.failure)}`);
    assert.equal(report.failure.cause, "reset");
  } finally {
    child.kill("SIGKILL");
  }
  await stopAll(a);
});

test("a peer whose start-up holds its event loop for a while after it began listening is reached without a timeout", async () => {
  const a = await startMember(1);
  running.push(a);
  const config = { clusterId: CLUSTER, memberId: 2, peers: [[1, a.address.port]], stallMs: 450 };
  const child = fork(PEER_PROCESS, [JSON.stringify(config)], { stdio: "ignore" });
  try {
    const [ready] = (await once(child, "message")) as [{ port: number }];
    a.transport.addPeer(2, { host: "127.0.0.1", port: ready.port });
    await waitFor("the link to the child", () => connectedTo(a, 2), 10_000);
    assert.deepEqual(unreachableEvents(a), [], "the dial outlasted the stall");
  } finally {
    child.kill("SIGKILL");
  }
  await stopAll(a);
});

test("a closed port is reported as refused", async () => {
  const closed = await startMember(2);
  await closed.transport.stop();
  const a = await startMember(1, { peers: new Map([[2, closed.address]]) });
  running.push(a);
  await waitFor("the outage report", () => unreachableEvents(a).length > 0);
  const [report] = unreachableEvents(a);
  assert.deepEqual({ cause: report?.failure.cause, code: report?.failure.code }, { cause: "refused", code: "ECONNREFUSED" });
  assert.ok(report && isPeerDown(report.failure));
  await stopAll(a);
});

test("a peer that accepts but never answers is reported as a timeout, not as down", async () => {
  const silentSockets = new Set<Socket>();
  const silent = createServer((socket) => silentSockets.add(socket));
  silent.listen(0, LOOPBACK.host);
  await once(silent, "listening");
  const { port } = silent.address() as AddressInfo;
  const a = await startMember(1, { connectTimeoutMs: 200, peers: new Map([[2, { host: LOOPBACK.host, port }]]) });
  running.push(a);
  try {
    await waitFor("the outage report", () => unreachableEvents(a).length > 0);
    const [report] = unreachableEvents(a);
    assert.equal(report?.failure.cause, "timeout");
    assert.equal(report && isPeerDown(report.failure), false);
  } finally {
    await stopAll(a);
    for (const socket of silentSockets) socket.destroy();
    silent.close();
  }
});

test("a welcome that arrived while the event loop was stalled past the dial's deadline is not taken for silence", async () => {
  const timeoutMs = 100;
  // Welcomes at once, then holds the (shared) event loop well past the dialer's deadline, as a
  // start-up compiling its routes or a machine not scheduling the process does.
  const acceptor = createServer((socket) => {
    const framed = new FramedSocket(socket);
    framed.listen({
      frame: () => {
        framed.write({ kind: "welcome" });
        const until = performance.now() + 3 * timeoutMs;
        while (performance.now() < until);
      },
      closed: () => undefined,
    });
  });
  acceptor.listen(0, LOOPBACK.host);
  await once(acceptor, "listening");
  const { port } = acceptor.address() as AddressInfo;
  try {
    const hello = { kind: "hello", version: PROTOCOL_VERSION, clusterId: CLUSTER, from: 1, to: 2, stream: "messages" } as const;
    const connection = await dial(connect({ host: LOOPBACK.host, port }), hello, timeoutMs);
    connection.destroy();
  } finally {
    acceptor.close();
  }
});
