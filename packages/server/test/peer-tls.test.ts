/**
 * The peer TLS flags turned into what the transport takes: --peer-auto-tls
 * makes a self-signed certificate once (with openssl) and members speak TLS
 * with it, unverified as in etcd; certificate files with
 * --peer-client-cert-auth and --peer-cert-allowed-cn ask for mutual TLS;
 * unreadable or mismatched files stop the load, naming the flag and file.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { MessageType, type Message } from "@raftkv/raft";
import { Transport } from "@raftkv/transport";
import { NO_PEER_TLS, type PeerTlsConfig } from "../src/config.js";
import { PeerCertificateFiles } from "../src/peer-tls.js";

const dirs: string[] = [];
after(() => Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true }))));

async function dataDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "raftkv-peer-tls-"));
  dirs.push(dir);
  return dir;
}

const AUTO_TLS: PeerTlsConfig = { ...NO_PEER_TLS, peerAutoTls: true };
const autoCertificate = (dir: string) => ({ certFile: join(dir, "fixtures", "peer", "cert.pem"), keyFile: join(dir, "fixtures", "peer", "key.pem") });

function heartbeat(from: number, to: number): Message {
  return { type: MessageType.Heartbeat, from, to, term: 1, logTerm: 0, index: 0, entries: [], commit: 0, reject: false, rejectHint: 0 };
}

test("--peer-auto-tls: a self-signed certificate made once per data dir; two members speak TLS with theirs, unverified", async () => {
  const [first, second] = [await dataDir(), await dataDir()];
  const a = await PeerCertificateFiles.load(AUTO_TLS, first);
  assert.deepEqual(a.tls.cert, readFileSync(autoCertificate(first).certFile));
  assert.deepEqual((await PeerCertificateFiles.load(AUTO_TLS, first)).tls.cert, a.tls.cert, "made once, then reused");
  assert.deepEqual([a.tls.verifyAcceptor, a.tls.requirePeerCertificate, a.tls.allowedCommonName], [false, false, undefined]);

  const b = await PeerCertificateFiles.load(AUTO_TLS, second);
  const received: Message[] = [];
  const listen = { host: "127.0.0.1", port: 0 };
  const one = new Transport({ clusterId: 1, memberId: 1, listen, tls: a.tls, onMessages: () => {} });
  const two = new Transport({ clusterId: 1, memberId: 2, listen, tls: b.tls, onMessages: (messages) => received.push(...messages) });
  await Promise.all([one.start(), two.start()]);
  try {
    one.addPeer(2, two.address());
    two.addPeer(1, one.address());
    one.send([heartbeat(1, 2)]);
    const deadline = Date.now() + 30_000;
    while (received.length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.equal(received.length, 1, "a heartbeat over TLS between self-signed members");
  } finally {
    await Promise.all([one.stop(), two.stop()]);
  }
});

test("certificate files with --peer-client-cert-auth and --peer-cert-allowed-cn ask for mutual TLS with that CN", async () => {
  const dir = await dataDir();
  await PeerCertificateFiles.load(AUTO_TLS, dir);
  // The self-signed certificate is its own CA: enough to read the flags back.
  const { certFile, keyFile } = autoCertificate(dir);
  const config = {
    ...NO_PEER_TLS,
    peerCertFile: certFile,
    peerKeyFile: keyFile,
    peerTrustedCaFile: certFile,
    peerClientCertAuth: true,
    peerCertAllowedCn: "raftkv",
  };
  const { tls } = await PeerCertificateFiles.load(config, await dataDir());
  assert.deepEqual([tls.requirePeerCertificate, tls.verifyAcceptor, tls.allowedCommonName], [true, true, "raftkv"]);
  assert.deepEqual([tls.cert, tls.key, tls.ca], [readFileSync(certFile), readFileSync(keyFile), readFileSync(certFile)]);
});

test("an unreadable peer certificate, or a key that does not match it, stops the load naming the flag and file", async () => {
  const [first, second] = [await dataDir(), await dataDir()];
  await PeerCertificateFiles.load(AUTO_TLS, first);
  await PeerCertificateFiles.load(AUTO_TLS, second);
  const missing = join(first, "missing.pem");
  await assert.rejects(PeerCertificateFiles.load({ ...NO_PEER_TLS, peerCertFile: missing, peerKeyFile: autoCertificate(first).keyFile }, first), {
    name: "TlsConfigError",
    message: new RegExp(`^--peer-cert-file ${missing} cannot be read: `),
  });
  const mismatched = { ...NO_PEER_TLS, peerCertFile: autoCertificate(first).certFile, peerKeyFile: autoCertificate(second).keyFile };
  await assert.rejects(PeerCertificateFiles.load(mismatched, first), {
    name: "TlsConfigError",
    message: new RegExp(`^cannot use --peer-cert-file ${autoCertificate(first).certFile} with --peer-key-file ${autoCertificate(second).keyFile}: `),
  });
});
