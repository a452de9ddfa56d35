/**
 * The raftkv command as a real process: help, version, exit codes for
 * mistakes, and the checks `cluster up` makes before starting any node.
 * None of these needs a running node.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { runCli, runMemberEntry } from "./support/cli.js";

const { version } = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
  version: string;
};

async function temporaryDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "raftkv-cli-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test("raftkv --help lists the commands and exits 0", async () => {
  const { code, stdout } = await runCli(["--help"]);
  assert.equal(code, 0);
  assert.match(stdout, /Usage: raftkv/);
  for (const command of ["serve", "cluster", "get", "put", "del", "txn", "watch", "lease", "lock", "elect", "member", "endpoint", "move-leader", "check"]) {
    assert.match(stdout, new RegExp(`^  ${command} `, "m"));
  }
});

test("raftkv serve --help shows each flag with its environment variable", async () => {
  const { code, stdout } = await runCli(["serve", "--help"]);
  assert.equal(code, 0);
  assert.match(stdout, /--initial-cluster-state <new\|existing>/);
  assert.match(stdout, /RAFTKV_INITIAL_CLUSTER_STATE/);
});

test("raftkv cluster up --help explains the layout", async () => {
  const { code, stdout } = await runCli(["cluster", "up", "--help"]);
  assert.equal(code, 0);
  assert.match(stdout, /--nodes <count>/);
  assert.match(stdout, /2379, 22379, 32379/);
});

test("raftkv --version prints the package version", async () => {
  const { code, stdout } = await runCli(["--version"]);
  assert.equal(code, 0);
  assert.equal(stdout.trim(), version);
});

const mistakes: { args: string[]; env?: Record<string, string>; message: RegExp }[] = [
  {
    args: ["serve", "--heartbeat-interval", "fast"],
    message: /^error: --heartbeat-interval: expected a positive whole number, got "fast"/,
  },
  { args: ["serve", "--bogus"], message: /^error: unknown option '--bogus'/ },
  {
    args: ["serve"],
    env: { RAFTKV_INITIAL_CLUSTER_STATE: "old" },
    message: /^error: RAFTKV_INITIAL_CLUSTER_STATE: expected new or existing/,
  },
  { args: ["serve", "--heartbeat-interval", "5"], message: /^error: --heartbeat-interval must be at least 10 ms/ },
  { args: ["cluster", "up", "--nodes", "4"], message: /argument '4' is invalid\. expected 3 or 5/ },
  {
    args: ["cluster", "up", "--election-timeout", "50"],
    message: /^error: --election-timeout must be at least five times --heartbeat-interval/,
  },
  { args: ["cluster", "up", "--name", "n1"], message: /^error: unknown option '--name'/ },
  { args: ["frobnicate"], message: /^error: unknown command 'frobnicate'/ },
  // Client commands: refused before any member is asked (none runs here).
  { args: ["get", "k", "-w", "xml"], message: /argument 'xml' is invalid\. Allowed choices are table, json, simple/ },
  { args: ["--command-timeout", "soon", "get", "k"], message: /argument 'soon' is invalid\. expected a duration/ },
  { args: ["get", "a", "b", "--prefix"], message: /^error: \[range_end\] and --prefix cannot be used together/ },
  { args: ["get", "k"], env: { RAFTKV_ENDPOINTS: "ftp://x" }, message: /^error: endpoints: endpoint ftp:\/\/x: only http and https/ },
  { args: ["lease", "revoke", "xyz"], message: /invalid for argument 'id'\. expected an id in hexadecimal/ },
  { args: ["txn"], message: /^error: standard input: not JSON/ },
  { args: ["elect", "jobs"], message: /^error: give a proposal to campaign with, or --listen to observe/ },
  { args: ["member", "add", "n4"], message: /required option '--peer-urls <urls>' not specified/ },
];

for (const { args, env, message } of mistakes) {
  const withEnv = env ? ` (with ${Object.keys(env).join(", ")})` : "";
  test(`raftkv ${args.join(" ")}${withEnv} exits 2 with a one-line error`, async () => {
    const { code, stdout, stderr } = await runCli(args, { ...process.env, ...env });
    assert.equal(code, 2, stderr);
    assert.match(stderr, message);
    assert.equal(stderr.trimEnd().split("\n").length, 1, stderr);
    assert.equal(stdout, "");
  });
}

test("a member's own entry runs serve alone, with the command line's exit codes", async () => {
  const badFlag = await runMemberEntry(["serve", "--heartbeat-interval", "fast"]);
  assert.equal(badFlag.code, 2, badFlag.stderr);
  assert.match(badFlag.stderr, /^error: --heartbeat-interval: expected a positive whole number, got "fast"\n$/);
  const help = await runMemberEntry(["serve", "--help"]);
  assert.equal(help.code, 0, help.stderr);
  assert.match(help.stdout, /RAFTKV_INITIAL_CLUSTER_STATE/);
  const clientCommand = await runMemberEntry(["get", "greeting"]);
  assert.equal(clientCommand.code, 2);
  assert.match(clientCommand.stderr, /unknown command 'get'/);
});

test("raftkv with no command shows the help and exits 2", async () => {
  const { code, stderr } = await runCli([]);
  assert.equal(code, 2);
  assert.match(stderr, /Usage: raftkv/);
});

/** Listens on `port` unless something else already does; either way the port is taken. */
async function occupy(t: TestContext, port: number): Promise<void> {
  const server: Server = createServer((socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once("error", (error: NodeJS.ErrnoException) => (error.code === "EADDRINUSE" ? resolve() : reject(error)));
    server.listen(port, "127.0.0.1", resolve);
  });
  t.after(() => server.close());
}

test("cluster up refuses to start when a port is taken, naming it", async (t) => {
  // n5's client port: a 5-node layout, clear of the 3-node cluster that
  // cluster-up.test.ts may be running at the same time.
  await occupy(t, 52379);
  const { code, stdout, stderr } = await runCli(["cluster", "up", "--nodes", "5", "--data-dir", await temporaryDir(t)]);
  assert.notEqual(code, 0);
  assert.match(stderr, /52379 \(n5 client\)/);
  assert.match(stderr, /already in use on 127\.0\.0\.1/);
  assert.doesNotMatch(stdout, /started/);
});

test("cluster up refuses a data dir that holds a cluster of another size", async (t) => {
  const dataDir = await temporaryDir(t);
  for (const name of ["n1", "n2", "n3", "n4", "n5"]) {
    await mkdir(join(dataDir, name));
    await writeFile(join(dataDir, name, "wal"), "");
  }
  const { code, stderr } = await runCli(["cluster", "up", "--nodes", "3", "--data-dir", dataDir]);
  assert.equal(code, 2);
  assert.match(stderr, /holds data of n1, n2, n3, n4, n5, not of the 3-node cluster n1, n2, n3/);
});

test("cluster up --tls refuses a data dir whose cluster was started without TLS (its ids come from http:// peer URLs)", async (t) => {
  const dataDir = await temporaryDir(t);
  for (const name of ["n1", "n2", "n3"]) {
    await mkdir(join(dataDir, name));
    await writeFile(join(dataDir, name, "wal"), "");
  }
  const { code, stderr } = await runCli(["cluster", "up", "--tls", "--data-dir", dataDir]);
  assert.equal(code, 2);
  assert.match(stderr, /holds a cluster started without --tls: start it without --tls again/);
});
