/**
 * Peer TLS on real member processes with real certificates (openssl): a
 * three-member cluster with mutual TLS on both ports, its members' peer
 * certificates signed by one CA with one allowed CN, elects, writes and
 * replicates; a process with a peer certificate another CA signed, and one
 * with another CN, are refused and the refusals logged with their reasons;
 * plain TCP to a peer port is refused and the member serves on; a peer
 * certificate rotated on disk is used for new connections without a
 * restart; a member added at an https:// peer URL catches up by a snapshot
 * over TLS; a member whose peer certificate cannot be used does not start.
 */
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { copyFile, mkdtemp, rm } from "node:fs/promises";
import { connect as tcpConnect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect as tlsConnect, type PeerCertificate } from "node:tls";
import { after, before, describe, test } from "node:test";
import { makeCa, makeCertificate, type KeyPair } from "@raftkv/cli";
import { raftkv } from "./support/raftkv-cli.js";
import { ProcessCluster, b64, postJson, waitFor, type ClientCredentials, type ClusterMember } from "./support/process-cluster.js";

/** The CN every member's peer certificate carries, and the only one members admit. */
const PEER_CN = "raftkv-peer";

let dir = "";
let ca: KeyPair;
let credentials: ClientCredentials;
let cluster: ProcessCluster;
/** n1's certificate, copied so that the test can replace it. */
let n1PeerCertificate: KeyPair;

/** A member's flags to show `own` on both ports. */
function certificateFlags(own: KeyPair): string[] {
  return [`--cert-file=${own.certFile}`, `--key-file=${own.keyFile}`, `--peer-cert-file=${own.certFile}`, `--peer-key-file=${own.keyFile}`];
}

/** A new certificate for both ports, by default signed by the CA with the peers' CN (SANs 127.0.0.1 and localhost). */
async function memberFlags(name: string, signer = ca, commonName = PEER_CN): Promise<string[]> {
  return certificateFlags(await makeCertificate(dir, signer, `${name}-${commonName}`, commonName));
}

const CLUSTER_FLAGS = (): string[] => [
  `--trusted-ca-file=${ca.certFile}`,
  "--client-cert-auth=true",
  `--peer-trusted-ca-file=${ca.certFile}`,
  "--peer-client-cert-auth=true",
  `--peer-cert-allowed-cn=${PEER_CN}`,
  // Small, so that a member that joins late catches up by a snapshot.
  "--snapshot-count=20",
  "--snapshot-catchup-entries=5",
];

const post = (member: ClusterMember, path: string, body: unknown) => postJson(member.clientUrl, path, body, credentials);

/** A write through n1, which stays up throughout. */
async function put(key: string, value: string): Promise<void> {
  await post(cluster.member("n1"), "/v3/kv/put", { key: b64(key), value: b64(value) });
}

/** Waits until `member` holds `key` with `value`, read from its own state. */
async function holds(member: ClusterMember, key: string, value: string): Promise<void> {
  await waitFor(`${member.name} to hold ${key}=${value}`, async () => {
    const range = await post(member, "/v3/kv/range", { key: b64(key), serializable: true });
    const kvs = (range.kvs as { value: string }[] | undefined) ?? [];
    return kvs[0]?.value === b64(value);
  });
}

/** The reasons `member` logged for refusing peer connections. */
function refusals(member: ClusterMember): string[] {
  return member.output
    .join("")
    .split("\n")
    .filter((line) => line.includes('"msg":"peer connection refused"'))
    .map((line) => String((JSON.parse(line) as { reason: string }).reason));
}

function peerAddress(member: ClusterMember): { host: string; port: number } {
  const url = new URL(member.peerUrl);
  return { host: url.hostname, port: Number(url.port) };
}

/** The certificate a member's peer port shows a new connection (which, showing none itself, is then refused). */
async function peerCertificateOf(member: ClusterMember): Promise<PeerCertificate> {
  const socket = tlsConnect({ ...peerAddress(member), ca: readFileSync(ca.certFile) });
  socket.on("error", () => {}); // the member refuses us once it has shown its certificate
  await once(socket, "secureConnect");
  const certificate = socket.getPeerCertificate();
  socket.destroy();
  return certificate;
}

/**
 * Starts a process that tries to join the cluster with `peerFlags`, waits
 * until some member logged a refusal matching `reason`, and stops it.
 */
async function refusedIntruder(name: string, flags: readonly string[], reason: RegExp): Promise<string> {
  const intruder = await cluster.join(name, flags);
  cluster.startJoined(intruder);
  try {
    return await waitFor(`a member to refuse ${name}`, async () => {
      const refused = cluster.members.filter((member) => member !== intruder).flatMap(refusals);
      return refused.find((logged) => reason.test(logged));
    }).catch((error: unknown) => {
      throw new Error(`${String(error)}\n${cluster.logs()}`);
    });
  } finally {
    await cluster.kill(name);
    cluster.forget(name);
  }
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "raftkv-peer-tls-"));
  ca = await makeCa(dir, "ca");
  const client = await makeCertificate(dir, ca, "client");
  credentials = { ca: readFileSync(ca.certFile), cert: readFileSync(client.certFile), key: readFileSync(client.keyFile) };
  const n1 = await makeCertificate(dir, ca, "n1-original", PEER_CN);
  n1PeerCertificate = { certFile: join(dir, "n1-peer.crt"), keyFile: join(dir, "n1-peer.key") };
  await copyFile(n1.certFile, n1PeerCertificate.certFile);
  await copyFile(n1.keyFile, n1PeerCertificate.keyFile);
  cluster = await ProcessCluster.start({
    size: 3,
    peerTls: true,
    clientTls: credentials,
    extraFlags: CLUSTER_FLAGS(),
    memberFlags: async (name) => (name === "n1" ? certificateFlags(n1PeerCertificate) : memberFlags(name)),
  });
});

after(async () => {
  await cluster?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe("peer TLS", { concurrency: false }, () => {
  test("three members with mutual TLS on both ports elect a leader, write and replicate", async () => {
    assert.ok(cluster.members.every((member) => member.peerUrl.startsWith("https://") && member.clientUrl.startsWith("https://")));
    await put("greeting", "hello over TLS");
    for (const member of cluster.members) await holds(member, "greeting", "hello over TLS");
    const shown = await peerCertificateOf(cluster.member("n2"));
    assert.equal(shown.subject.CN, PEER_CN, "the peer port serves TLS with the member's certificate");
    assert.deepEqual(
      cluster.members.flatMap(refusals).filter((reason) => !reason.includes("no certificate")),
      [],
      "no member refused another",
    );
  });

  test("a process whose peer certificate another CA signed is refused, and the refusal logged", async () => {
    const otherCa = await makeCa(dir, "other-ca");
    const reason = await refusedIntruder("stranger", await memberFlags("stranger", otherCa), /is not signed by the peer CA/);
    assert.match(reason, new RegExp(`^the peer certificate \\(CN ${PEER_CN}\\) is not signed by the peer CA: [A-Z_]+$`));
    await put("after-stranger", "still serving");
    for (const member of cluster.members) await holds(member, "after-stranger", "still serving");
  });

  test("a process whose peer certificate the CA signed for another CN is refused when --peer-cert-allowed-cn is set", async () => {
    const reason = await refusedIntruder("impostor", await memberFlags("impostor", ca, "impostor"), /CN impostor/);
    assert.equal(reason, `the peer certificate's CN impostor is not the allowed CN ${PEER_CN}`);
    await put("after-impostor", "still serving");
    for (const member of cluster.members) await holds(member, "after-impostor", "still serving");
  });

  test("plain TCP to a peer port is refused and logged; the member serves on", async () => {
    const n2 = cluster.member("n2");
    const socket = tcpConnect(peerAddress(n2));
    socket.on("error", () => {}); // a reset is one way to be refused
    await once(socket, "connect");
    // A plain-TCP hello's length prefix and some bytes: what a member without TLS would send.
    socket.write(Buffer.from([0, 0, 0, 12, 0x82, 0xa4, 0x6b, 0x69, 0x6e, 0x64, 0xa5, 0x68, 0x65, 0x6c, 0x6c, 0x6f]));
    await once(socket, "close");
    await waitFor("n2 to log the refusal", async () => refusals(n2).some((reason) => reason.startsWith("TLS handshake failed")));
    await put("after-plain-tcp", "still serving");
    await holds(n2, "after-plain-tcp", "still serving");
  });

  test("a peer certificate rotated on disk serves new connections, both ways, without a restart", async () => {
    const n1 = cluster.member("n1");
    const pid = n1.process?.pid;
    const before = await peerCertificateOf(n1);
    const rotated = await makeCertificate(dir, ca, "n1-rotated", PEER_CN);
    await copyFile(rotated.keyFile, n1PeerCertificate.keyFile);
    await copyFile(rotated.certFile, n1PeerCertificate.certFile);
    const after = await waitFor("n1 to show the rotated certificate", async () => {
      const shown = await peerCertificateOf(n1);
      return shown.serialNumber !== before.serialNumber ? shown : undefined;
    });
    assert.equal(after.fingerprint256, new X509Certificate(readFileSync(rotated.certFile)).fingerprint256);
    // n2 restarted: every connection between n1 and n2, both ways, is new and carries n1's new certificate.
    await cluster.kill("n2");
    cluster.restart("n2");
    await cluster.waitForLeader();
    await put("after-rotation", "still serving");
    await holds(cluster.member("n2"), "after-rotation", "still serving");
    assert.equal(n1.process?.pid, pid, "n1 was not restarted");
  });

  test("a member added at an https:// peer URL catches up by a snapshot sent over TLS", async () => {
    for (let i = 0; i < 60; i++) await put(`bulk/${i}`, `v${i}`);
    const joining = await cluster.join("n4", await memberFlags("n4"));
    await post(await cluster.waitForLeader(), "/v3/cluster/member/add", { peerURLs: [joining.peerUrl] });
    cluster.startJoined(joining);
    await holds(joining, "bulk/59", "v59");
    assert.match(joining.output.join(""), /snapshot installed/, "n4 caught up by a snapshot");
    assert.ok(
      cluster.members.some((member) => /"msg":"snapshot transfer over"/.test(member.output.join(""))),
      "a member sent it",
    );
  });
});

test("a member whose peer certificate cannot be read, or whose key does not match it, does not start", async () => {
  const peerUrl = "https://127.0.0.1:1";
  const base = [
    "serve",
    "--name=lone",
    `--data-dir=${join(dir, "lone")}`,
    "--listen-client-urls=http://127.0.0.1:0",
    `--listen-peer-urls=${peerUrl}`,
    `--initial-cluster=lone=${peerUrl}`,
  ];
  const missing = join(dir, "missing.crt");
  const unreadable = await raftkv([...base, `--peer-cert-file=${missing}`, `--peer-key-file=${ca.keyFile}`]);
  assert.notEqual(unreadable.code, 0);
  assert.match(unreadable.stdout + unreadable.stderr, new RegExp(`--peer-cert-file ${missing.replaceAll("/", "\\/")} cannot be read`));
  const mismatched = await raftkv([...base, `--peer-cert-file=${ca.certFile}`, `--peer-key-file=${n1PeerCertificate.keyFile}`]);
  assert.notEqual(mismatched.code, 0);
  assert.match(mismatched.stdout + mismatched.stderr, /cannot use --peer-cert-file .* with --peer-key-file .*: .*key values mismatch/);
});
