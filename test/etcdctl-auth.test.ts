/**
 * etcdctl 3.4 (Debian's), unchanged, over mutual TLS with auth, against a
 * raftkv cluster serving gRPC on its https:// client ports: one transcript
 * of commands (users, roles, permissions, auth enable and disable, a
 * client known only by its certificate's CN, a wrong password), each with
 * etcdctl's own output. Where etcd 3.4 is installed the same transcript
 * runs against it, started with the same certificates and flags, and every
 * output must be identical. Python's etcd3 client logs in with a user and
 * password over the same TLS. curl on the same port gets HTTP/1.1 and the
 * JSON gateway. A membership change asked of a follower reaches the
 * https:// leader with the caller's token.
 */
import assert from "node:assert/strict";
import { execFile, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { readFileSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { makeCa, makeCertificate, type KeyPair } from "@raftkv/cli";
import { RAFTKV_BIN, freePort, waitFor } from "./support/process-cluster.js";

const ETCDCTL = "/usr/bin/etcdctl";
const PYTHON = "/usr/bin/python3";
const PYTHON_SCRIPT = join(dirname(fileURLToPath(import.meta.url)), "../python/etcd3_auth.py");
const HAS_ETCD = spawnSync("etcd", ["--version"]).status === 0;

/** Whose client certificate etcdctl presents: its CN is the user of a request without --user. */
type Holder = "ops" | "bob" | "root" | "nobody";

interface Step {
  /** etcdctl's arguments, split on spaces. */
  readonly run: string;
  /** What etcdctl prints (stdout, then stderr without clientv3's JSON log lines), its URL shown as <endpoint>. */
  readonly out: string;
  /** The client certificate presented; "ops" (a CN that is no user) unless said. */
  readonly as?: Holder;
  readonly stdin?: string;
}

const DENIED = "Error: etcdserver: permission denied\n";
const WATCH_DENIED = "watch was canceled (rpc error: code = PermissionDenied desc = etcdserver: permission denied)\nError: watch is canceled by the server\n";
const BAD_PASSWORD = "Error: etcdserver: authentication failed, invalid user ID or password\n";

const TRANSCRIPT: Step[] = [
  { run: "user add root:pw", out: "User root created\n" },
  { run: "user add root:pw", out: "Error: etcdserver: user name already exists\n" },
  { run: "role add root", out: "Role root created\n" },
  { run: "user grant-role root root", out: "Role root is granted to user root\n" },
  { run: "role add app", out: "Role app created\n" },
  { run: "role grant-permission app readwrite app/ --prefix", out: "Role app updated\n" },
  { run: "role grant-permission app read shared", out: "Role app updated\n" },
  { run: "role grant-permission ghost read x", out: "Error: etcdserver: role name not found\n" },
  { run: "role get app", out: "Role app\nKV Read:\n\t[app/, app0) (prefix app/)\n\tshared\nKV Write:\n\t[app/, app0) (prefix app/)\n" },
  { run: "user add alice:apw", out: "User alice created\n" },
  { run: "user grant-role alice app", out: "Role app is granted to user alice\n" },
  { run: "user grant-role alice ghost", out: "Error: etcdserver: role name not found\n" },
  { run: "user add bob --no-password", out: "User bob created\n" },
  { run: "user grant-role bob app", out: "Role app is granted to user bob\n" },
  { run: "user get alice", out: "User: alice\nRoles: app\n" },
  { run: "put app/x 1", out: "OK\n" },
  { run: "auth enable", out: "Authentication Enabled\n" },

  { run: "--user root:pw user list", out: "alice\nbob\nroot\n" },
  { run: "--user root:pw role list", out: "app\nroot\n" },
  { run: "--user alice:apw put app/x 2", out: "OK\n" },
  { run: "--user alice:apw get app/x", out: "app/x\n2\n" },
  { run: "--user alice:apw put other 1", out: DENIED },
  { run: "--user alice:apw put shared 1", out: DENIED },
  { run: "--user alice:apw get shared", out: "" },
  { run: "--user alice:apw user list", out: DENIED },
  { run: "--user alice:apw auth disable", out: DENIED },
  { run: "--user alice:apw watch other", out: WATCH_DENIED },
  { run: "watch app/x", as: "nobody", out: WATCH_DENIED },
  { run: "--user alice:apw defrag", out: "Failed to defragment etcd member[<endpoint>] (etcdserver: permission denied)\n" },
  { run: "--user alice:wrong get app/x", out: BAD_PASSWORD },
  { run: "--user ghost:pw get app/x", out: BAD_PASSWORD },
  // A user added without a password is for certificates only.
  { run: "--user bob:x get app/x", out: BAD_PASSWORD },
  // Without --user, the client certificate's CN is the user.
  { run: "put app/bob 1", as: "bob", out: "OK\n" },
  { run: "get app/ --prefix --keys-only", as: "bob", out: "app/bob\n\napp/x\n\n" },
  { run: "put other 1", as: "bob", out: DENIED },
  { run: "user list", as: "root", out: "alice\nbob\nroot\n" },
  { run: "get app/x", as: "nobody", out: DENIED },
  { run: "get app/x", out: DENIED },
  { run: "--user root:pw user passwd alice --interactive=false", stdin: "new\n", out: "Password updated\n" },
  { run: "--user alice:apw get app/x", out: BAD_PASSWORD },
  { run: "--user alice:new get app/x --print-value-only", out: "2\n" },
  { run: "--user root:pw role revoke-permission app shared", out: "Permission of key shared is revoked from role app\n" },
  { run: "--user root:pw role revoke-permission app shared", out: "Error: etcdserver: permission is not granted to the role\n" },
  { run: "--user root:pw user revoke-role alice app", out: "Role app is revoked from user alice\n" },
  { run: "--user alice:new get app/x", out: DENIED },
  { run: "--user root:pw user delete alice", out: "User alice deleted\n" },
  { run: "--user root:pw user get alice", out: "Error: etcdserver: user name not found\n" },
  { run: "--user root:pw role delete app", out: "Role app deleted\n" },
  { run: "get app/x --print-value-only", as: "bob", out: DENIED },
  { run: "--user root:pw auth disable", out: "Authentication Disabled\n" },
  { run: "get app/x --print-value-only", out: "2\n" },
];

/** Where etcd 3.4.23 prints something else, by command, with why (raftkv's own output is the transcript's). */
const DIFFERENCES: Record<string, string> = {
  "--user bob:x get app/x":
    "etcd 3.4.23 answers a password for a user without one with 'auth: authentication failed, password was given for no password user' (code Unknown); " +
    "raftkv answers as for any wrong password, which does not tell who exists without a password",
  "--user alice:apw defrag":
    "etcd 3.4.23's maintenance service passes its auth store's own error on, unmapped: 'rpc error: code = Unknown desc = auth: permission denied'; " +
    "raftkv answers etcd's usual 'etcdserver: permission denied' (PermissionDenied)",
};

let dir = "";
let ca: KeyPair;
const certificates = new Map<Holder, KeyPair>();
/** Every process started, to be killed at the end. */
const started: Server[] = [];
let raftkv: Server[] = [];
let etcd: Server | undefined;

interface Server {
  readonly url: string;
  readonly process: ChildProcess;
  readonly output: string[];
}

/** A cluster, raftkv's or etcd's, on https:// client URLs with mutual TLS (its peers speak plain HTTP). */
async function startCluster(size: number, command: string, args: (member: MemberUrls) => string[], server: KeyPair): Promise<Server[]> {
  const members: MemberUrls[] = [];
  for (let i = 1; i <= size; i++) {
    const [clientPort, peerPort] = [await freePort(), await freePort()];
    members.push({ name: `m${i}`, clientUrl: `https://127.0.0.1:${clientPort}`, peerUrl: `http://127.0.0.1:${peerPort}`, initialCluster: "" });
  }
  const initialCluster = members.map((member) => `${member.name}=${member.peerUrl}`).join(",");
  const tls = [
    `--cert-file=${server.certFile}`,
    `--key-file=${server.keyFile}`,
    `--trusted-ca-file=${ca.certFile}`,
    "--client-cert-auth=true",
    "--bcrypt-cost=4",
  ];
  const servers = members.map((member) => {
    const child = spawn(command, [...args({ ...member, initialCluster }), ...tls], { stdio: ["ignore", "pipe", "pipe"] });
    const output: string[] = [];
    child.stdout?.on("data", (chunk: Buffer) => output.push(chunk.toString()));
    child.stderr?.on("data", (chunk: Buffer) => output.push(chunk.toString()));
    return { url: member.clientUrl, process: child, output };
  });
  started.push(...servers);
  for (const { url, output } of servers) {
    const healthy = async () => (await httpsGet(`${url}/health`)).includes('"health":"true"');
    await waitFor(`${command} to serve at ${url}`, healthy, 30_000).catch((error: unknown) => assert.fail(`${String(error)}\n${output.join("")}`));
  }
  return servers;
}

interface MemberUrls {
  readonly name: string;
  readonly clientUrl: string;
  readonly peerUrl: string;
  readonly initialCluster: string;
}

function raftkvArgs({ name, clientUrl, peerUrl, initialCluster }: MemberUrls): string[] {
  const urls = [`--listen-client-urls=${clientUrl}`, `--listen-peer-urls=${peerUrl}`, `--initial-cluster=${initialCluster}`];
  return [RAFTKV_BIN, "serve", `--name=${name}`, `--data-dir=${join(dir, "raftkv", name)}`, ...urls];
}

function etcdArgs({ name, clientUrl, peerUrl, initialCluster }: MemberUrls): string[] {
  const urls = [
    `--listen-client-urls=${clientUrl}`,
    `--advertise-client-urls=${clientUrl}`,
    `--listen-peer-urls=${peerUrl}`,
    `--initial-advertise-peer-urls=${peerUrl}`,
  ];
  return [`--name=${name}`, `--data-dir=${join(dir, "etcd", name)}`, ...urls, `--initial-cluster=${initialCluster}`];
}

/** GET over TLS with the "ops" certificate, through Node's client (which offers no ALPN: HTTP/1.1). */
function httpsGet(url: string): Promise<string> {
  const ops = certificates.get("ops")!;
  return new Promise((resolve, reject) => {
    const options = { ca: readFileSync(ca.certFile), cert: readFileSync(ops.certFile), key: readFileSync(ops.keyFile), agent: false };
    const req = request(url, options, (response) => {
      let body = "";
      response.on("data", (chunk: Buffer) => (body += chunk.toString()));
      response.on("end", () => resolve(body));
    });
    req.on("error", reject);
    req.end();
  });
}

interface Outcome {
  readonly code: number;
  readonly out: string;
}

/** Runs etcdctl against `url` with the holder's certificate; stderr loses clientv3's JSON log lines, which carry times. */
async function etcdctl(url: string, step: Pick<Step, "run" | "as" | "stdin">): Promise<Outcome> {
  const holder = certificates.get(step.as ?? "ops")!;
  const tls = [`--cacert=${ca.certFile}`, `--cert=${holder.certFile}`, `--key=${holder.keyFile}`];
  const child = execFile(ETCDCTL, [`--endpoints=${url}`, ...tls, ...step.run.split(" ")], { env: { ...process.env, ETCDCTL_API: "3" }, timeout: 30_000 });
  // etcdctl may exit before it reads its input.
  child.stdin?.on("error", () => undefined);
  child.stdin?.end(step.stdin ?? "");
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number>((resolve) => child.on("close", (exit) => resolve(exit ?? -1)));
  const errors = stderr.split("\n").filter((line) => line !== "" && !line.startsWith('{"level":'));
  const out = stdout + errors.map((line) => `${line}\n`).join("");
  return { code, out: out.replaceAll(url, "<endpoint>") };
}

async function runTranscript(url: string): Promise<Map<string, Outcome>> {
  const outcomes = new Map<string, Outcome>();
  for (const [index, step] of TRANSCRIPT.entries()) outcomes.set(`${index}: ${step.as ?? "ops"}$ etcdctl ${step.run}`, await etcdctl(url, step));
  return outcomes;
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "raftkv-etcdctl-auth-"));
  ca = await makeCa(dir, "ca");
  for (const holder of ["ops", "bob", "root", "nobody"] as const) certificates.set(holder, await makeCertificate(dir, ca, `client-${holder}`, holder));
  const member = await makeCertificate(dir, ca, "member");
  raftkv = await startCluster(3, process.execPath, raftkvArgs, member);
  if (HAS_ETCD) [etcd] = await startCluster(1, "etcd", etcdArgs, member);
});

after(async () => {
  for (const server of started) server.process.kill("SIGKILL");
  if (dir) await rm(dir, { recursive: true, force: true });
});

test("etcdctl over mutual TLS: users, roles, permissions, auth and CN identities, with etcdctl's output (and etcd's, where installed)", async () => {
  const ours = await runTranscript(raftkv[0]!.url);
  const theirs = etcd ? await runTranscript(etcd.url) : undefined;
  const [keys, expected] = [[...ours.keys()], TRANSCRIPT.map((step) => step.out)];
  assert.deepEqual(
    keys.map((key) => `${key}\n${ours.get(key)!.out}`),
    keys.map((key, i) => `${key}\n${expected[i]}`),
  );
  // etcdctl exits non-zero exactly when it reports a failure.
  for (const [key, outcome] of ours) assert.equal(outcome.code !== 0, /^(Error:|Failed)/m.test(outcome.out), `${key}: exit code ${outcome.code}`);
  if (!theirs) return;
  const compared = keys.filter((_key, i) => !(TRANSCRIPT[i]!.run in DIFFERENCES));
  const mismatches = compared.filter((key) => JSON.stringify(ours.get(key)) !== JSON.stringify(theirs.get(key)));
  assert.deepEqual(
    mismatches.map((key) => `${key}: etcd ${JSON.stringify(theirs.get(key))}, raftkv ${JSON.stringify(ours.get(key))}`),
    [],
  );
});

test("without a client certificate etcdctl gets nothing; curl on the same port gets HTTP/1.1 and the JSON gateway", async () => {
  const url = raftkv[0]!.url;
  const bare = await new Promise<string>((resolve) => {
    execFile(
      ETCDCTL,
      [`--endpoints=${url}`, `--cacert=${ca.certFile}`, "--dial-timeout=1s", "get", "app/x"],
      { env: { ...process.env, ETCDCTL_API: "3" } },
      (error, _stdout, stderr) => resolve(error ? stderr : "succeeded"),
    );
  });
  assert.match(bare, /Error: context deadline exceeded/);
  const ops = certificates.get("ops")!;
  // curl offers h2 and HTTP/1.1: the member picks HTTP/1.1, where the JSON gateway is.
  const curl = await promisify(execFile)("curl", [
    "-sS",
    "-w",
    "\\n%{http_version}",
    "--cacert",
    ca.certFile,
    "--cert",
    ops.certFile,
    "--key",
    ops.keyFile,
    `${url}/v3/kv/range`,
    "-d",
    '{"key":"YXBwL3g="}',
  ]);
  const [body, version] = curl.stdout.split("\n");
  assert.equal(version, "1.1");
  assert.equal(Buffer.from((JSON.parse(body!) as { kvs: { value: string }[] }).kvs[0]!.value, "base64").toString(), "2");
});

test("python's etcd3 logs in with a user and password over mutual TLS", async () => {
  const url = raftkv[0]!.url;
  const root = { as: "root" as const };
  for (const run of ["user add carol:cpw", "role add py", "role grant-permission py readwrite py/ --prefix", "user grant-role carol py", "auth enable"]) {
    assert.equal((await etcdctl(url, { run, ...root })).code, 0, run);
  }
  const ops = certificates.get("ops")!;
  const { hostname, port } = new URL(url);
  const args = [PYTHON_SCRIPT, hostname, port, ca.certFile, ops.certFile, ops.keyFile, "carol", "cpw"];
  const { stdout } = await promisify(execFile)(PYTHON, args, { timeout: 60_000 });
  assert.deepEqual(stdout.trim().split("\n"), [
    "put and get py/a 1",
    "denied StatusCode.PERMISSION_DENIED etcdserver: permission denied",
    "wrong password StatusCode.INVALID_ARGUMENT etcdserver: authentication failed, invalid user ID or password",
  ]);
  assert.equal((await etcdctl(url, { run: "auth disable", ...root })).out, "Authentication Disabled\n");
});

test("a membership change asked of a follower goes to the https:// leader with the caller's token", async () => {
  const root = { as: "root" as const };
  for (const run of ["user add dave:dpw", "auth enable"]) assert.equal((await etcdctl(raftkv[0]!.url, { run, ...root })).code, 0, run);
  const follower = await followerUrl();
  const added = await etcdctl(follower, { run: `--user root:pw member add learner --learner --peer-urls=http://127.0.0.1:${await freePort()}` });
  const id = /^Member +([0-9a-f]+) added to cluster +[0-9a-f]+\n/.exec(added.out)?.[1] ?? assert.fail(added.out);
  assert.equal((await etcdctl(follower, { run: `--user dave:dpw member remove ${id}` })).out, DENIED);
  assert.match((await etcdctl(follower, { run: `--user root:pw member remove ${id}` })).out, /^Member +[0-9a-f]+ removed from cluster +[0-9a-f]+\n$/);
  assert.equal((await etcdctl(follower, { run: "auth disable", ...root })).out, "Authentication Disabled\n");
});

/** The client URL of a member that does not lead, as the members' status says. */
async function followerUrl(): Promise<string> {
  const endpoints = raftkv.map((server) => server.url).join(",");
  const { out } = await etcdctl(endpoints, { run: "--user root:pw endpoint status -w json" });
  const statuses = JSON.parse(out) as { Endpoint: string; Status: { header: { member_id: number }; leader: number } }[];
  return statuses.find(({ Status }) => Status.header.member_id !== Status.leader)?.Endpoint ?? assert.fail(out);
}
