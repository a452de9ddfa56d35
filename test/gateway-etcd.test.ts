/**
 * The gateway's proto3 JSON next to a running etcd 3.4 (Debian's): the same
 * requests to both, with JSON names (`rangeEnd`) and proto names, unknown
 * fields, the /v3beta prefix, and calls over a WebSocket as etcd's proxy
 * takes them; every answer must match apart from its response header (ids
 * and raft terms differ by nature). Skipped where no etcd binary is installed.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import WebSocket from "ws";
import { HAS_ETCD, startEtcd, type Etcd } from "./support/etcd.js";
import { ProcessCluster, b64, waitFor } from "./support/process-cluster.js";

const SKIP = !HAS_ETCD && "no etcd binary";

interface HttpStep {
  readonly name: string;
  readonly path: string;
  readonly body?: unknown;
  readonly method?: "GET";
  /** Only the status is compared (etcd's plain-text pages, members that differ by nature). */
  readonly statusOnly?: true;
}

const LEASE = 4242;

const HTTP_STEPS: HttpStep[] = [
  { name: "put", path: "/v3/kv/put", body: { key: b64("a"), value: b64("1") } },
  { name: "put with prevKv and unknown fields", path: "/v3/kv/put", body: { key: b64("a"), value: b64("2"), prevKv: true, noSuchField: { nested: [1] } } },
  { name: "put at /v3beta with ignoreLease", path: "/v3beta/kv/put", body: { key: b64("b"), value: b64("3"), ignore_lease: false } },
  {
    name: "range with rangeEnd, sortOrder, sortTarget",
    path: "/v3/kv/range",
    body: { key: b64("a"), rangeEnd: b64("z"), sortOrder: "DESCEND", sortTarget: "MOD" },
  },
  {
    name: "range with keysOnly and maxModRevision",
    path: "/v3beta/kv/range",
    body: { key: b64("a"), rangeEnd: b64("z"), keysOnly: true, maxModRevision: "3" },
  },
  {
    name: "range with countOnly and minCreateRevision",
    path: "/v3/kv/range",
    body: { key: b64("a"), range_end: b64("z"), countOnly: true, minCreateRevision: 3 },
  },
  { name: "the JSON name wins over the proto name", path: "/v3/kv/range", body: { key: b64("a"), range_end: "AA==", rangeEnd: b64("a") } },
  { name: "whichever comes first", path: "/v3/kv/range", body: { key: b64("a"), rangeEnd: "AA==", range_end: b64("a") } },
  { name: "a name in neither form is unknown", path: "/v3/kv/range", body: { key: b64("a"), RangeEnd: "AA==", range_End: "AA==" } },
  {
    name: "txn with JSON names in compares and ops, nested",
    path: "/v3/kv/txn",
    body: {
      compare: [
        { key: b64("a"), target: "MOD", result: "GREATER", modRevision: "1" },
        { key: b64("a"), rangeEnd: b64("c"), target: "CREATE", result: "LESS", createRevision: 100 },
      ],
      success: [
        { requestPut: { key: b64("c"), value: b64("4"), prevKv: true } },
        { requestRange: { key: b64("a"), rangeEnd: b64("b"), countOnly: true } },
        { requestTxn: { compare: [{ key: b64("b"), target: "VALUE", value: b64("3") }], success: [{ requestDeleteRange: { key: b64("b"), prevKv: true } }] } },
      ],
      failure: [{ request_put: { key: b64("never"), value: b64("x") } }],
      notATxnField: true,
    },
  },
  {
    name: "txn failure branch by proto names",
    path: "/v3beta/kv/txn",
    body: { compare: [{ key: b64("zz"), target: "VERSION", result: "GREATER", version: 0 }], failure: [{ request_range: { key: b64("c") } }] },
  },
  { name: "deleterange with rangeEnd and prevKv", path: "/v3/kv/deleterange", body: { key: b64("c"), rangeEnd: b64("d"), prevKv: true } },
  { name: "lease grant with an ID", path: "/v3/lease/grant", body: { TTL: 60, ID: LEASE } },
  { name: "lease grant with an ID in use", path: "/v3/lease/grant", body: { TTL: 60, ID: LEASE } },
  { name: "lease grant at /v3beta with an ID in use", path: "/v3beta/lease/grant", body: { TTL: 30, ID: String(LEASE) } },
  { name: "put with a lease", path: "/v3/kv/put", body: { key: b64("leased"), value: b64("v"), lease: String(LEASE) } },
  { name: "leases at /v3beta", path: "/v3beta/kv/lease/leases" },
  { name: "revoke at /v3beta", path: "/v3beta/lease/revoke", body: { ID: LEASE, unknown: "x" } },
  { name: "compaction with physical", path: "/v3/kv/compaction", body: { revision: 2, physical: true } },
  { name: "add a user with options.noPassword", path: "/v3/auth/user/add", body: { name: "nopw", options: { noPassword: true } } },
  { name: "authenticate as the user without a password", path: "/v3/auth/authenticate", body: { name: "nopw", password: "" } },
  { name: "add a role", path: "/v3beta/auth/role/add", body: { name: "r" } },
  {
    name: "grant with perm.permType and perm.rangeEnd",
    path: "/v3/auth/role/grant",
    body: { name: "r", perm: { permType: "READWRITE", key: b64("a"), rangeEnd: b64("b") } },
  },
  { name: "get the role", path: "/v3/auth/role/get", body: { role: "r" } },
  { name: "revoke with rangeEnd", path: "/v3/auth/role/revoke", body: { role: "r", key: b64("a"), rangeEnd: b64("b") } },
  { name: "member list at /v3beta", path: "/v3beta/cluster/member/list", statusOnly: true },
  { name: "status at /v3beta", path: "/v3beta/maintenance/status", statusOnly: true },
  { name: "/v3alpha is not served", path: "/v3alpha/kv/range", body: { key: b64("a") }, statusOnly: true },
  { name: "a GET of a gateway path", path: "/v3/kv/range", method: "GET", statusOnly: true },
];

/** A reply without its response header (a txn's nested headers, which carry revisions alone, are compared). */
function withoutHeader(reply: unknown): unknown {
  if (typeof reply !== "object" || reply === null) return reply;
  return Object.fromEntries(Object.entries(reply).filter(([name]) => name !== "header"));
}

async function runHttpSteps(baseUrl: string): Promise<Map<string, unknown>> {
  const answers = new Map<string, unknown>();
  for (const step of HTTP_STEPS) {
    const init = step.method === "GET" ? { method: "GET" } : { method: "POST", body: JSON.stringify(step.body ?? {}) };
    const response = await fetch(`${baseUrl}${step.path}`, init);
    const text = await response.text();
    answers.set(step.name, step.statusOnly ? response.status : { status: response.status, body: withoutHeader(JSON.parse(text)) });
  }
  return answers;
}

/** What one WebSocket received: its messages, the subprotocol the server chose, and how it closed. */
interface Conversation {
  readonly protocol: string;
  readonly messages: unknown[];
  closeCode?: number;
}

/** What a scenario's steps know: where the member is, what came back so far, and the revision its setup wrote at. */
interface Scene {
  readonly baseUrl: string;
  readonly seen: Conversation;
  readonly revision: number;
}

interface WsScenario {
  readonly name: string;
  readonly path: string;
  readonly protocols?: string[];
  /** Before the messages: plain HTTP requests that set the scene; returns the revision of its first write. */
  readonly setup?: (baseUrl: string) => Promise<number>;
  /** A message to send (or one made from the scene), or an action that waits for answers or acts over HTTP. */
  readonly steps: readonly (string | ((scene: Scene) => string | Promise<unknown>))[];
  /** Received once this holds (or the server closed); the client then closes. */
  readonly done: (seen: Conversation) => boolean;
  /** Why the close is not compared: the client then drops the connection instead of closing it. */
  readonly closeDiffers?: string;
}

const createdCount = (seen: Conversation): number => seen.messages.filter((m) => (m as Json).result?.created).length;
const eventCount = (seen: Conversation): number => seen.messages.reduce<number>((n, m) => n + ((m as Json).result?.events?.length ?? 0), 0);
/** Puts a key and returns the revision it was written at. */
async function put(baseUrl: string, key: string, value: string): Promise<number> {
  const response = await fetch(`${baseUrl}/v3/kv/put`, { method: "POST", body: JSON.stringify({ key: b64(key), value: b64(value) }) });
  return Number(((await response.json()) as Json).header.revision);
}
const waitUntil = (what: string, condition: (seen: Conversation) => boolean) => (scene: Scene) => waitFor(what, async () => condition(scene.seen));

// biome-ignore lint/suspicious/noExplicitAny: a JSON reply, read field by field
type Json = Record<string, any>;

const WS_SCENARIOS: WsScenario[] = [
  {
    name: "a watch stream: JSON names, unknown fields, history, ids, progress, cancel, a duplicate id, live events",
    path: "/v3/watch",
    setup: async (baseUrl) => {
      const first = await put(baseUrl, "w/1", "one");
      await put(baseUrl, "w/2", "two");
      return first;
    },
    steps: [
      ({ revision }) => JSON.stringify({ createRequest: { key: b64("w/"), rangeEnd: b64("w0"), startRevision: revision, prevKv: true }, noSuchField: [1] }),
      waitUntil("the first watch", (seen) => createdCount(seen) === 1 && eventCount(seen) === 2),
      JSON.stringify({ create_request: { key: b64("w/1"), watchId: 7, filters: ["NOPUT"] } }),
      JSON.stringify({ progressRequest: {} }),
      JSON.stringify({ cancelRequest: { watchId: "7" } }),
      JSON.stringify({ cancel_request: { watch_id: 99 } }),
      // Two requests in one message: the first gets the next free id (1), the second asks for 1 again.
      `${JSON.stringify({ create_request: { key: b64("w/2") } })}${JSON.stringify({ create_request: { key: b64("w/2"), watch_id: 1 } })}`,
      waitUntil("the creates", (seen) => createdCount(seen) === 4),
      ({ baseUrl }) => put(baseUrl, "w/2", "live"),
    ],
    done: (seen) => eventCount(seen) === 4,
  },
  {
    name: "a request split over two messages, at /v3beta",
    path: "/v3beta/watch",
    steps: [
      '{"create_request":',
      `{"key":"${b64("split")}"}}`,
      waitUntil("created", (seen) => createdCount(seen) === 1),
      ({ baseUrl }) => put(baseUrl, "split", "x"),
    ],
    done: (seen) => eventCount(seen) === 1,
  },
  {
    name: "a watch from a compacted revision: created, then canceled with the compact revision",
    path: "/v3/watch",
    setup: async (baseUrl) => {
      const revision = await put(baseUrl, "compacted", "x");
      await fetch(`${baseUrl}/v3/kv/compaction`, { method: "POST", body: JSON.stringify({ revision }) });
      return revision;
    },
    steps: [JSON.stringify({ create_request: { key: b64("a"), start_revision: 1 } })],
    done: (seen) => seen.messages.length === 2,
  },
  {
    name: "a bad first request: an error with code 2, then the connection closes",
    path: "/v3/watch",
    steps: [JSON.stringify({ create_request: { key: 5 } })],
    done: () => false,
  },
  {
    name: "a bad later request: the stream reads no more requests, and the watch carries on",
    path: "/v3/watch",
    steps: [
      JSON.stringify({ create_request: { key: b64("later") } }),
      waitUntil("created", (seen) => createdCount(seen) === 1),
      '{"bad',
      JSON.stringify({ create_request: { key: b64("ignored") } }),
      ({ baseUrl }) => put(baseUrl, "later", "x"),
    ],
    done: (seen) => eventCount(seen) === 1,
    closeDiffers:
      "etcd's proxy stops reading the socket once its gateway reads no more requests, so a close frame is never answered (the client gives up after its close timeout); raftkv answers it with 1000",
  },
  {
    name: "a keep-alive stream: renewals in order, an unknown lease, and a bad request ends it",
    path: "/v3/lease/keepalive",
    setup: async (baseUrl) => {
      await fetch(`${baseUrl}/v3/lease/grant`, { method: "POST", body: JSON.stringify({ TTL: 90, ID: 5151 }) });
      return 0;
    },
    steps: [
      JSON.stringify({ ID: 5151 }),
      JSON.stringify({ ID: "5151" }),
      JSON.stringify({ ID: 999 }),
      waitUntil("three renewals", (seen) => seen.messages.length === 3),
      '{"ID":"x"}',
    ],
    done: () => false,
  },
  {
    name: "a unary call at /v3beta: its reply, then the connection closes",
    path: "/v3beta/kv/range",
    steps: [JSON.stringify({ key: b64("w/1"), keysOnly: true })],
    done: () => false,
  },
  {
    name: "a unary call's error",
    path: "/v3/kv/range",
    steps: [JSON.stringify({ rangeEnd: b64("x") })],
    done: () => false,
  },
  {
    name: "a Bearer subprotocol is answered in kind",
    path: "/v3/watch",
    protocols: ["Bearer"],
    steps: [],
    done: () => true,
  },
];

async function converse(baseUrl: string, scenario: WsScenario): Promise<Conversation> {
  const revision = (await scenario.setup?.(baseUrl)) ?? 0;
  const socket = new WebSocket(`${baseUrl.replace(/^http/, "ws")}${scenario.path}`, scenario.protocols);
  const seen: Conversation = { protocol: "", messages: [] };
  const closed = new Promise<void>((resolve) =>
    socket.on("close", (code) => {
      seen.closeCode = code;
      resolve();
    }),
  );
  socket.on("message", (data) => seen.messages.push(JSON.parse(String(data))));
  socket.on("error", () => undefined);
  await new Promise((resolve, reject) => socket.once("open", resolve).once("unexpected-response", () => reject(new Error(`${scenario.name}: no upgrade`))));
  Object.assign(seen, { protocol: socket.protocol });
  for (const step of scenario.steps) {
    const made = typeof step === "string" ? step : await step({ baseUrl, seen, revision });
    if (typeof made === "string") socket.send(made);
  }
  await waitFor(`${scenario.name} at ${baseUrl}`, async () => scenario.done(seen) || seen.closeCode !== undefined);
  if (seen.closeCode === undefined && scenario.closeDiffers) socket.terminate();
  else if (seen.closeCode === undefined) socket.close(1000);
  await closed;
  if (scenario.closeDiffers) delete seen.closeCode;
  return seen;
}

/**
 * What a conversation is compared by: the messages of each watch (or
 * keep-alive, or call) in the order sent, with consecutive event messages
 * joined (etcd and raftkv may batch events differently, and etcd sends a
 * watch's history after later requests' answers), headers and error texts
 * left out (Go's JSON errors are not JavaScript's), and the close code.
 */
function comparable(seen: Conversation): unknown {
  const byWatch = new Map<string, unknown[]>();
  for (const message of seen.messages as Json[]) {
    const id = message.result?.watch_id ?? "none";
    const items = byWatch.get(id) ?? [];
    byWatch.set(id, items);
    const payload = (message.result ?? message) as Json;
    const { events, ...rest } = ("error" in payload ? { code: payload.code ?? payload.error.grpc_code } : withoutHeader(payload)) as Json;
    const last = items.at(-1) as Json | undefined;
    if (events && Object.keys(rest).length <= 1 && last?.events) last.events.push(...events);
    else items.push(events ? { ...rest, events } : rest);
  }
  return { protocol: seen.protocol, closeCode: seen.closeCode, watches: Object.fromEntries([...byWatch].sort(([a], [b]) => a.localeCompare(b))) };
}

let etcd: Etcd | undefined;
let etcdUrl = "";
let cluster: ProcessCluster | undefined;

before(async () => {
  if (!HAS_ETCD) return;
  etcd = await startEtcd();
  etcdUrl = etcd.clientUrl;
  cluster = await ProcessCluster.start({ size: 1 });
});

after(async () => {
  await etcd?.stop();
  await cluster?.stop();
});

test("JSON and proto names, unknown fields and /v3beta are answered as etcd 3.4 answers them", { skip: SKIP }, async () => {
  const theirs = await runHttpSteps(etcdUrl);
  const ours = await runHttpSteps(cluster!.members[0]!.clientUrl);
  const mismatches = HTTP_STEPS.filter((step) => !isDeepEqual(ours.get(step.name), theirs.get(step.name))).map(
    (step) => `${step.name}: etcd ${JSON.stringify(theirs.get(step.name))}, raftkv ${JSON.stringify(ours.get(step.name))}`,
  );
  assert.deepEqual(mismatches, []);
});

test("calls over a WebSocket are answered as etcd 3.4's gateway answers them", { skip: SKIP }, async () => {
  const mismatches: string[] = [];
  for (const scenario of WS_SCENARIOS) {
    const theirs = comparable(await converse(etcdUrl, scenario));
    const ours = comparable(await converse(cluster!.members[0]!.clientUrl, scenario));
    if (!isDeepEqual(ours, theirs)) mismatches.push(`${scenario.name}: etcd ${JSON.stringify(theirs)}, raftkv ${JSON.stringify(ours)}`);
  }
  assert.deepEqual(mismatches, []);
});

function isDeepEqual(a: unknown, b: unknown): boolean {
  try {
    assert.deepEqual(a, b);
    return true;
  } catch {
    return false;
  }
}
