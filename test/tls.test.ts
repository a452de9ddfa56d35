/**
 * Client TLS on a real member with real certificates (openssl): mutual TLS
 * lets in a client the trusted CA signed and refuses one without a
 * certificate, one another CA signed, and plain HTTP, while the member
 * keeps serving, and its metrics listener serves health and metrics in
 * plain HTTP; a certificate replaced on disk is served without a
 * restart; a key that does not match its certificate stops the member at
 * start-up with a message naming the files.
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { copyFile, mkdtemp, rm } from "node:fs/promises";
import { readFileSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { Client } from "@raftkv/client";
import { makeCa, makeCertificate, type KeyPair } from "@raftkv/cli";
import { raftkv } from "./support/raftkv-cli.js";
import { RAFTKV_BIN, freePort, waitFor } from "./support/process-cluster.js";

let dir = "";
let ca: KeyPair;
let member: ChildProcess | undefined;
let output = "";
let clientUrl = "";
let metricsUrl = "";
/** The certificate the member serves, copied so that the test can replace it. */
let served: KeyPair;

function serve(flags: readonly string[], port: number, peerPort: number, dataDir: string): ChildProcess {
  const peerUrl = `http://127.0.0.1:${peerPort}`;
  const child = spawn(
    process.execPath,
    [
      RAFTKV_BIN,
      "serve",
      "--name=n1",
      `--data-dir=${dataDir}`,
      `--listen-client-urls=https://127.0.0.1:${port}`,
      `--listen-peer-urls=${peerUrl}`,
      `--initial-cluster=n1=${peerUrl}`,
      ...flags,
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  return child;
}

interface TlsAnswer {
  readonly status: number;
  /** The serial number of the certificate the member presented. */
  readonly serial: string;
}

/** GET over a new TLS connection, with or without a client certificate. */
function get(path: string, client?: KeyPair): Promise<TlsAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${clientUrl}${path}`,
      {
        ca: readFileSync(ca.certFile),
        agent: false,
        ...(client ? { cert: readFileSync(client.certFile), key: readFileSync(client.keyFile) } : {}),
      },
      (response) => {
        const serial = (response.socket as import("node:tls").TLSSocket).getPeerCertificate().serialNumber;
        response.resume();
        response.on("end", () => resolve({ status: response.statusCode ?? 0, serial }));
      },
    );
    req.on("error", reject);
    req.end();
  });
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "raftkv-tls-"));
  ca = await makeCa(dir, "ca");
  const original = await makeCertificate(dir, ca, "member");
  served = { certFile: join(dir, "served.crt"), keyFile: join(dir, "served.key") };
  await copyFile(original.certFile, served.certFile);
  await copyFile(original.keyFile, served.keyFile);
  const [port, peerPort, metricsPort] = [await freePort(), await freePort(), await freePort()];
  clientUrl = `https://127.0.0.1:${port}`;
  metricsUrl = `http://127.0.0.1:${metricsPort}`;
  const flags = [
    `--cert-file=${served.certFile}`,
    `--key-file=${served.keyFile}`,
    `--trusted-ca-file=${ca.certFile}`,
    "--client-cert-auth=true",
    `--listen-metrics-urls=${metricsUrl}`,
  ];
  member = serve(flags, port, peerPort, join(dir, "n1"));
});

after(async () => {
  member?.kill("SIGKILL");
  await rm(dir, { recursive: true, force: true });
});

test("mutual TLS: a client the trusted CA signed gets in; no certificate, another CA's, or plain HTTP do not", async () => {
  const client = await makeCertificate(dir, ca, "client");
  await waitFor("the member to serve over TLS", async () => (await get("/health", client)).status === 200, 30_000).catch((error: unknown) => {
    throw new Error(`${String(error)}\n${output}`);
  });
  await assert.rejects(get("/health"), "a client without a certificate");
  const otherCa = await makeCa(dir, "other-ca");
  await assert.rejects(get("/health", await makeCertificate(dir, otherCa, "stranger")), "a client another CA signed");
  const plain = await fetch(`${clientUrl.replace("https:", "http:")}/health`).then(
    (response) => response.status,
    () => "refused",
  );
  assert.notEqual(plain, 200, "plain HTTP to the TLS port");
  assert.equal((await get("/health", client)).status, 200, "the member still serves");
  // --listen-metrics-urls: plain HTTP, no certificate, health and metrics only.
  assert.equal((await fetch(`${metricsUrl}/health`)).status, 200);
  assert.match(await (await fetch(`${metricsUrl}/metrics`)).text(), /raftkv_/);
  assert.equal((await fetch(`${metricsUrl}/v3/kv/range`, { method: "POST", body: "{}" })).status, 404);
});

test("a certificate replaced on disk is served to new connections without a restart", async () => {
  const client = await makeCertificate(dir, ca, "client2");
  const before = await waitFor("the member to serve", async () => get("/health", client), 30_000);
  const rotated = await makeCertificate(dir, ca, "rotated");
  await copyFile(rotated.keyFile, served.keyFile);
  await copyFile(rotated.certFile, served.certFile);
  const after = await waitFor("the rotated certificate", async () => {
    const answer = await get("/health", client).catch(() => undefined);
    return answer && answer.serial !== before.serial ? answer : undefined;
  });
  assert.equal(after.status, 200);
  assert.equal(member?.exitCode, null, "no restart");
});

test("the CLI and the client over mutual TLS with auth: users, roles, permissions, and a client that logs in again", async () => {
  const client = await makeCertificate(dir, ca, "cli");
  const tlsFlags = [`--endpoints=${clientUrl}`, `--cacert=${ca.certFile}`, `--cert=${client.certFile}`, `--key=${client.keyFile}`];
  const run = async (...args: string[]): Promise<string> => {
    const result = await raftkv([...tlsFlags, ...args]);
    assert.equal(result.code, 0, `raftkv ${args.join(" ")}: ${result.stdout}${result.stderr}`);
    return result.stdout;
  };
  const refused = async (...args: string[]): Promise<string> => {
    const result = await raftkv([...tlsFlags, ...args]);
    assert.notEqual(result.code, 0, `raftkv ${args.join(" ")} should fail`);
    return result.stderr;
  };
  await waitFor("the member to serve", async () => (await get("/health", client)).status === 200, 30_000);
  assert.equal(await run("user", "add", "root:rootpw"), "User root created\n");
  assert.equal(await run("auth", "enable"), "Authentication Enabled\n");
  const root = "--user=root:rootpw";
  assert.equal(await run(root, "role", "add", "app"), "Role app created\n");
  assert.equal(await run(root, "role", "grant-permission", "app", "readwrite", "app/", "--prefix"), "Role app updated\n");
  assert.equal(await run(root, "role", "get", "app"), "Role app\nKV Read:\n\t[app/, app0) (prefix app/)\nKV Write:\n\t[app/, app0) (prefix app/)\n");
  assert.equal(await run(root, "user", "add", "alice", "--new-user-password=apw"), "User alice created\n");
  assert.equal(await run(root, "user", "grant-role", "alice", "app"), "Role app is granted to user alice\n");
  assert.equal(await run(root, "user", "get", "alice"), "User: alice\nRoles: app\n");
  assert.equal(
    await run(root, "auth", "status"),
    `Authentication Status: true\nAuthRevision: ${/AuthRevision: (\d+)/.exec(await run(root, "auth", "status"))?.[1]}\n`,
  );

  assert.equal(await run("--user=alice:apw", "put", "app/x", "v"), "OK\n");
  assert.equal(await run("--user=alice", "--password=apw", "-w", "simple", "get", "app/x"), "app/x\nv\n");
  assert.match(await refused("get", "app/x"), /etcdserver: user name is empty/);
  assert.match(await refused("--user=alice:apw", "put", "other", "v"), /etcdserver: permission denied/);
  assert.match(await refused("--user=alice:wrong", "get", "app/x"), /etcdserver: authentication failed, invalid user ID or password/);

  const library = new Client({
    endpoints: [clientUrl],
    credentials: { user: "alice", password: "apw" },
    tls: { ca: readFileSync(ca.certFile), cert: readFileSync(client.certFile), key: readFileSync(client.keyFile) },
  });
  try {
    await library.kv.put("app/y", "1");
    // Turning auth off and on voids every token: the client logs in again and its request goes through.
    await run(root, "auth", "disable");
    await run("auth", "enable");
    await library.kv.put("app/y", "2");
    assert.equal((await library.kv.get("app/y")).kvs[0]?.value.toString(), "2");
  } finally {
    await library.close();
  }
  assert.equal(await run(root, "auth", "disable"), "Authentication Disabled\n");
});

test("a key that does not match its certificate stops the member at start-up, naming the files", async () => {
  const other = await makeCertificate(dir, ca, "other");
  const [port, peerPort] = [await freePort(), await freePort()];
  const flags = [`--cert-file=${other.certFile}`, `--key-file=${ca.keyFile}`];
  const before = output.length;
  const child = serve(flags, port, peerPort, join(dir, "n-bad"));
  const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
  assert.notEqual(code, 0);
  assert.match(output.slice(before), new RegExp(`cannot use --cert-file ${other.certFile.replaceAll("/", "\\/")} with --key-file`));
});
