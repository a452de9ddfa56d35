/**
 * Mutual TLS between real transports on 127.0.0.1, with the certificates in
 * fixtures/ (made by fixtures/make.sh with openssl): messages and snapshots
 * travel; a dialer another CA signed, one with a CN not allowed, and one
 * speaking plain TCP are refused and logged, the acceptor serving on;
 * an acceptor the dialer's CA did not sign is not spoken to; replaced
 * certificates are used by the next connections, both ways.
 */
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { connect as tlsConnect, createServer as createTlsServer, type PeerCertificate, type TLSSocket } from "node:tls";
import { after, describe, test } from "node:test";
import { MessageType } from "@raftkv/raft";
import { isPeerDown, type PeerCertificates, type PeerTls } from "../src/index.js";
import { LOOPBACK, connectedTo, introduce, message, startMember, stopAll, waitFor, type TestMember } from "./support/harness.js";

const FIXTURES = new URL("../../test/fixtures/", import.meta.url);
const pem = (name: string): Buffer => readFileSync(new URL(name, FIXTURES));
const pairOf = (name: string, ca = "ca"): PeerCertificates => ({ cert: pem(`${name}.crt`), key: pem(`${name}.key`), ca: pem(`${ca}.crt`) });

function mutualTls(name: string, ca = "ca", policy: Partial<PeerTls> = {}): PeerTls {
  return { ...pairOf(name, ca), requirePeerCertificate: true, verifyAcceptor: true, ...policy };
}

const running: TestMember[] = [];
after(() => stopAll(...running));

async function member(...args: Parameters<typeof startMember>): Promise<TestMember> {
  const started = await startMember(...args);
  running.push(started);
  return started;
}

function refusalsLogged(member: TestMember): string[] {
  return member.log.filter((record) => record.message === "peer connection refused").map((record) => String((record.fields as { reason: string }).reason));
}

/**
 * A deadline no handshake on a loaded machine misses: these tests are about
 * why a connection is refused, and a timeout would hide the reason.
 */
const PATIENT = { connectTimeoutMs: 30_000 };
/** How long a test waits for what it expects, for the same reason. */
const WAIT_MS = 30_000;

/** Dials member `to` from a fresh transport `from` with `tls`, and waits for the first report. */
async function dialWith(to: TestMember, from: number, tls: PeerTls | undefined) {
  const dialer = await member(from, tls ? { ...PATIENT, tls } : PATIENT);
  dialer.transport.addPeer(to.id, to.address);
  await waitFor("a report on the dial", () => dialer.events.length > 0, WAIT_MS);
  return dialer.events[0];
}

/** The certificate a TLS server at `address` shows (with the member certificate as client). */
async function certificateServedBy(address: { host: string; port: number }): Promise<PeerCertificate> {
  const socket = tlsConnect({ ...address, ...pairOf("member"), rejectUnauthorized: false });
  await once(socket, "secureConnect");
  const certificate = socket.getPeerCertificate();
  socket.destroy();
  return certificate;
}

describe("mutual TLS", () => {
  test("messages and a snapshot travel between members with certificates the CA signed", async () => {
    const a = await member(1, { tls: mutualTls("member", "ca", { allowedCommonName: "member" }) });
    const b = await member(2, {
      tls: mutualTls("member", "ca", { allowedCommonName: "member" }),
      onSnapshot: async (_from, _message, chunks) => {
        for await (const chunk of chunks) received.push(...chunk);
      },
    });
    const received: number[] = [];
    introduce(a, b);
    await waitFor("both links up", () => connectedTo(a, 2) && connectedTo(b, 1), WAIT_MS);
    a.transport.send([message(1, 2, { commit: 7 })]);
    await waitFor("the message", () => b.inbox.length === 1, WAIT_MS);
    assert.equal(b.inbox[0]?.commit, 7);
    async function* data() {
      yield new Uint8Array([1, 2, 3]);
      yield new Uint8Array([4]);
    }
    const outcome = await a.transport.sendSnapshot(2, message(1, 2, { type: MessageType.Snap }), data());
    assert.deepEqual(outcome, { delivered: true });
    assert.deepEqual(received, [1, 2, 3, 4]);
    assert.deepEqual([refusalsLogged(a), refusalsLogged(b)], [[], []]);
    await stopAll(a, b);
  });

  test("a dialer whose certificate another CA signed is refused before a frame is read, and told why", async () => {
    const acceptor = await member(1, { tls: mutualTls("member") });
    acceptor.transport.addPeer(2, { host: "127.0.0.1", port: 1 });
    // The stranger trusts the acceptor's CA, so that only the acceptor's check stops it.
    const report = await dialWith(acceptor, 2, { ...mutualTls("stranger", "other-ca"), ca: Buffer.concat([pem("ca.crt"), pem("other-ca.crt")]) });
    assert.equal(report?.kind, "unreachable");
    assert.equal(report.kind === "unreachable" && report.failure.cause, "rejected");
    assert.match(report.kind === "unreachable" ? report.failure.detail : "", /CN member\) is not signed by the peer CA/);
    assert.match(refusalsLogged(acceptor).join("\n"), /not signed by the peer CA/);
    assert.deepEqual(acceptor.inbox, []);
  });

  test("with an allowed CN, a certificate the CA signed for another CN is refused, both ways", async () => {
    const acceptor = await member(1, { tls: mutualTls("member", "ca", { allowedCommonName: "member" }) });
    acceptor.transport.addPeer(3, { host: "127.0.0.1", port: 1 });
    const report = await dialWith(acceptor, 3, mutualTls("intruder"));
    assert.equal(report?.kind === "unreachable" && report.failure.cause, "rejected");
    assert.deepEqual(refusalsLogged(acceptor), ["the peer certificate's CN intruder is not the allowed CN member"]);
    // The member dialing the intruder refuses it too, as the acceptor it reached.
    const intruder = await member(4, { tls: mutualTls("intruder") });
    const dialer = await member(5, { ...PATIENT, tls: mutualTls("member", "ca", { allowedCommonName: "member" }) });
    dialer.transport.addPeer(4, intruder.address);
    await waitFor("a report", () => dialer.events.length > 0, WAIT_MS);
    const failure = dialer.events[0]?.kind === "unreachable" ? dialer.events[0].failure : undefined;
    assert.equal(failure?.code, "ERR_TLS_CN_NOT_ALLOWED");
    assert.equal(failure && isPeerDown(failure), false, "a wrong certificate is not a dead peer");
  });

  test("an acceptor whose certificate the dialer's CA did not sign is not spoken to", async () => {
    const stranger = await member(6, { tls: mutualTls("stranger", "other-ca") });
    const report = await dialWith(stranger, 7, mutualTls("member"));
    const failure = report?.kind === "unreachable" ? report.failure : undefined;
    assert.equal(failure?.cause, "error");
    assert.match(failure?.detail ?? "", /signature|certificate/);
    assert.deepEqual(stranger.inbox, []);
  });

  test("plain TCP to a TLS member is refused and logged; the member serves on", async () => {
    const secure = await member(8, { tls: mutualTls("member") });
    secure.transport.addPeer(9, { host: "127.0.0.1", port: 1 });
    const report = await dialWith(secure, 9, undefined);
    assert.equal(report?.kind, "unreachable");
    await waitFor("the refusal logged", () => refusalsLogged(secure).some((reason) => reason.startsWith("TLS handshake failed")), WAIT_MS);
    const peer = await member(10, { tls: mutualTls("member") });
    introduce(secure, peer);
    await waitFor("a secure link", () => connectedTo(peer, 8), WAIT_MS);
    peer.transport.send([message(10, 8)]);
    await waitFor("a message over TLS", () => secure.inbox.length === 1, WAIT_MS);
  });

  test("replaced certificates serve the next connections, both ways, without a restart", async () => {
    const a = await member(11, { tls: mutualTls("member") });
    const before = await certificateServedBy(a.address);
    a.transport.replaceCertificates(pairOf("member-rotated"));
    const served = await certificateServedBy(a.address);
    assert.notEqual(served.serialNumber, before.serialNumber);
    assert.equal(served.serialNumber, new X509Certificate(pem("member-rotated.crt")).serialNumber);

    // A TLS server in the test's place of a peer, to see the certificate a dial shows.
    const shown: string[] = [];
    const peer = createTlsServer({ ...pairOf("member"), requestCert: true }, (socket: TLSSocket) => {
      shown.push(socket.getPeerCertificate().serialNumber);
      socket.destroy();
    });
    peer.listen(0, LOOPBACK.host);
    await once(peer, "listening");
    try {
      a.transport.addPeer(12, { host: "127.0.0.1", port: (peer.address() as AddressInfo).port });
      await waitFor("a dial", () => shown.length > 0, WAIT_MS);
      assert.equal(shown[0], served.serialNumber);
    } finally {
      a.transport.removePeer(12);
      peer.close();
    }
    assert.throws(() => a.transport.replaceCertificates({ cert: pem("member.crt"), key: pem("intruder.key") }));
    assert.equal((await certificateServedBy(a.address)).serialNumber, served.serialNumber, "a bad replacement leaves the old certificates");
  });
});
