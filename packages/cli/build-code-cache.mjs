// Makes the V8 code cache of the member's bundle (see src/serve-loader.ts)
// when it is built, so that the first start of every member finds one: on a
// fresh machine, in CI and in each container of the Docker image, where the
// first member to start used to run without it and write one a second later.
// The cache holds the functions compiled by the time it is written, a second
// after the member started (serve-loader.ts), so it is made by a member doing
// what a restarted member does first: a 3-member cluster on loopback, one
// follower killed and started again, which catches up, serves its first
// read and the requests clients send most (puts, ranges, txns), and writes
// the cache. V8 reads the whole cache at each start, so the requests' code
// costs every start a little (2.38 MB against 2.23 for the cache a first
// member wrote, about 5 ms more CPU to a restarted member's first read) and
// saves more right after (its next 17 puts, ranges and txns 47 -> 35 ms of
// CPU): see bench/README.md, "What each change bought". Run by the root
// `npm run build`, after build-serve.mjs; members started with other V8
// flags, or by another Node.js, find V8 refusing it and write their own.
import { spawn } from "node:child_process";
import { existsSync, openSync, readFileSync, rmSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { memberCommand } from "./dist/src/member-process.js";
import { codeCacheFile } from "./dist/src/serve-loader.js";

const here = dirname(fileURLToPath(import.meta.url));
const cacheFile = codeCacheFile(join(here, "dist/raftkv-serve.cjs"));
const DEADLINE_MS = 60_000;
/** After its client port answers, a member started without a cache writes one within a second (serve-loader.ts); more, for a busy machine. */
const FIRST_WRITE_SETTLED_MS = 3_000;

/** What a restarted member's clients send most: the gateway's kv calls, and status. */
const REQUESTS = [
  ["/v3/kv/put", { key: "YQ==", value: "MQ==" }],
  ["/v3/kv/range", { key: "YQ==" }],
  ["/v3/kv/range", { key: "YQ==", serializable: true }],
  ["/v3/kv/txn", { compare: [{ key: "YQ==", target: "VALUE", result: "EQUAL", value: "MQ==" }], success: [{ request_put: { key: "YQ==", value: "Mg==" } }] }],
  ["/v3/kv/deleterange", { key: "YQ==" }],
  ["/v3/maintenance/status", {}],
];

/** Some code runs only from a request's second time on (fastify's caches of content types and routes hit). */
const REQUEST_ROUNDS = 3;

/** `count` ports free on 127.0.0.1 (bound, then released). */
async function freePorts(count) {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise((resolve, reject) => {
          const server = createServer().once("error", reject);
          server.listen(0, "127.0.0.1", () => resolve(server));
        }),
    ),
  );
  const ports = servers.map((server) => server.address().port);
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}

class BuildCluster {
  constructor(root, ports) {
    this.root = root;
    this.members = [0, 1, 2].map((i) => ({
      name: `m${i + 1}`,
      clientUrl: `http://127.0.0.1:${ports[2 * i]}`,
      peerUrl: `http://127.0.0.1:${ports[2 * i + 1]}`,
      process: undefined,
    }));
  }

  launch(member) {
    const flags = [
      `--name=${member.name}`,
      `--data-dir=${join(this.root, member.name)}`,
      `--listen-client-urls=${member.clientUrl}`,
      `--listen-peer-urls=${member.peerUrl}`,
      `--initial-cluster=${this.members.map((m) => `${m.name}=${m.peerUrl}`).join(",")}`,
      "--log-level=warn",
    ];
    const { command, args } = memberCommand(flags);
    const log = openSync(this.logOf(member), "a");
    member.process = spawn(command, args, { stdio: ["ignore", log, log] });
    member.exited = new Promise((resolve) => member.process.once("exit", resolve));
  }

  logOf(member) {
    return join(this.root, `${member.name}.log`);
  }

  /** A member's last lines, to say why the build failed. */
  logTail(member) {
    const log = this.logOf(member);
    return `${member.name}: ${existsSync(log) ? readFileSync(log, "utf8").trim().split("\n").slice(-5).join("\n  ") : "(no log)"}`;
  }

  /** The leader every member names, once they agree. */
  async leader() {
    for (;;) {
      const statuses = await Promise.all(this.members.map((member) => call(member, "/v3/maintenance/status", {}).catch(() => undefined)));
      const leaders = new Set(statuses.map((status) => status?.leader));
      const [leader] = leaders;
      if (leaders.size === 1 && leader) return this.members.find((_, i) => statuses[i].header.member_id === leader);
      await delay(50);
    }
  }

  async stop() {
    for (const member of this.members) member.process?.kill("SIGKILL");
    await Promise.all(this.members.map((member) => member.exited));
  }
}

async function call(member, path, body) {
  const response = await fetch(`${member.clientUrl}${path}`, { method: "POST", body: JSON.stringify(body), signal: AbortSignal.timeout(2_000) });
  if (!response.ok) throw new Error(`${member.name} ${path}: ${response.status} ${await response.text()}`);
  return response.json();
}

/** The first linearizable read a member serves, tried until it answers. */
async function firstRead(member) {
  for (;;) {
    if (
      await call(member, "/v3/kv/range", { key: "YQ==" }).then(
        () => true,
        () => false,
      )
    )
      return;
    await delay(20);
  }
}

async function makeCache(cluster) {
  for (const member of cluster.members) cluster.launch(member);
  const leader = await cluster.leader();
  // The members started without a cache, and each writes one a second after it serves: those are replaced.
  await delay(FIRST_WRITE_SETTLED_MS);
  rmSync(cacheFile, { force: true });
  const follower = cluster.members.find((member) => member !== leader);
  follower.process.kill("SIGKILL");
  await follower.exited;
  cluster.launch(follower);
  await firstRead(follower);
  for (let round = 0; round < REQUEST_ROUNDS; round++) for (const [path, body] of REQUESTS) await call(follower, path, body);
  while (!existsSync(cacheFile)) await delay(50);
}

const root = await mkdtemp(join(tmpdir(), "raftkv-code-cache-"));
const cluster = new BuildCluster(root, await freePorts(6));
try {
  await Promise.race([
    makeCache(cluster),
    delay(DEADLINE_MS, undefined, { ref: false }).then(() => {
      throw new Error(`no code cache within ${DEADLINE_MS / 1000} s`);
    }),
  ]);
} catch (error) {
  throw new Error(`build-code-cache: ${error.message}\n${cluster.members.map((member) => cluster.logTail(member)).join("\n")}`);
} finally {
  await cluster.stop();
  await rm(root, { recursive: true, force: true });
}
