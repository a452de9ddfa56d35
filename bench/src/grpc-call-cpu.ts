/**
 * The CPU one member spends per unary gRPC call, counted rather than timed,
 * for A/B comparisons of the gRPC front end on a noisy machine: a one-member
 * cluster (no replication to share the cores with), a fixed number of Put or
 * Range calls with a fixed number in flight over a few connections from this
 * process, and the member's CPU time (from /proc) over them divided by their
 * number. This process's own CPU per call is printed too: the load generator
 * of the grpc command runs the same grpc-js client code.
 * Run: pnpm --filter @raftkv/bench grpc-call-cpu [--systems raftkv,etcd] [--methods put,range] [--calls 20000] [--in-flight 64] [--profile DIR]
 * (--profile: the raftkv member under node --cpu-prof, its profile in DIR as m1-leader.cpuprofile)
 */
import { parseArgs } from "node:util";
import { resolve } from "node:path";
import { LocalCluster, etcdInstalled, profilingFlags, stopSideBySide } from "./clusters.js";
import { parseSystem, positive } from "./grpc/options.js";
import { call, connect, ready, type EtcdClient, type Message } from "./grpc/protos.js";
import { sampleProcess } from "./throughput/proc.js";
import { VALUE, keyAt } from "./throughput/workloads.js";

const CONNECTIONS = 4;
const KEYS = 1000;
const CONNECT_TIMEOUT_MS = 10_000;

type Method = "put" | "range";

interface CallCpu {
  readonly memberUs: number;
  readonly generatorUs: number;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      systems: { type: "string" },
      methods: { type: "string", default: "put,range" },
      calls: { type: "string", default: "20000" },
      "in-flight": { type: "string", default: "64" },
      "base-port": { type: "string", default: "23700" },
      profile: { type: "string" },
    },
  });
  const profileDir = values.profile === undefined ? undefined : resolve(values.profile);
  const systems = (values.systems ?? (etcdInstalled() ? "raftkv,etcd" : "raftkv")).split(",").map(parseSystem);
  const methods = values.methods.split(",").map(parseMethod);
  const [calls, inFlight, basePort] = [positive(values.calls), positive(values["in-flight"]), positive(values["base-port"])];
  for (const system of systems) {
    const cluster = await LocalCluster.start(system, basePort + (system === "etcd" ? 100 : 0), 1, { nodeFlags: await profilingFlags(profileDir) });
    try {
      for (const method of methods) {
        const cpu = await cpuPerCall(cluster, method, calls, inFlight);
        console.log(
          `${system.padEnd(6)} ${method.padEnd(5)} at ${inFlight} in flight: member CPU per call ${cpu.memberUs.toFixed(1)} µs, this process ${cpu.generatorUs.toFixed(1)} µs, ${calls} calls`,
        );
      }
    } finally {
      await stopSideBySide([cluster], profileDir);
    }
  }
}

function parseMethod(text: string): Method {
  if (text === "put" || text === "range") return text;
  throw new Error(`--methods takes put and range, not ${text}`);
}

async function cpuPerCall(cluster: LocalCluster, method: Method, calls: number, inFlight: number): Promise<CallCpu> {
  const member = await cluster.waitForLeader(CONNECT_TIMEOUT_MS);
  const clients: EtcdClient[] = Array.from({ length: CONNECTIONS }, () => connect("KV", new URL(member.clientUrl).host));
  try {
    await Promise.all(clients.map((client) => ready(client, CONNECT_TIMEOUT_MS)));
    const keys = Array.from({ length: KEYS }, (_, i) => Buffer.from(keyAt(i)));
    const value = Buffer.from(VALUE);
    // Every key written once, so that a range finds one key-value, as in the grpc command's range rows.
    await runCalls(clients, "Put", (i) => ({ key: keys[i % KEYS], value }), KEYS, inFlight);
    const request = method === "put" ? (i: number) => ({ key: keys[i % KEYS], value }) : (i: number) => ({ key: keys[i % KEYS] });
    const name = method === "put" ? "Put" : "Range";
    await runCalls(clients, name, request, Math.ceil(calls / 10), inFlight);
    const pid = member.process!.pid!;
    const [memberBefore, generatorBefore] = [sampleProcess(pid), process.cpuUsage()];
    await runCalls(clients, name, request, calls, inFlight);
    const generator = process.cpuUsage(generatorBefore);
    return {
      memberUs: ((sampleProcess(pid).cpuS - memberBefore.cpuS) * 1e6) / calls,
      generatorUs: (generator.user + generator.system) / calls,
    };
  } finally {
    for (const client of clients) client.close();
  }
}

/** `count` calls, `inFlight` at a time (each followed by the next as soon as it is answered), spread over the clients. */
async function runCalls(
  clients: readonly EtcdClient[],
  method: "Put" | "Range",
  request: (i: number) => Message,
  count: number,
  inFlight: number,
): Promise<void> {
  let next = 0;
  const loop = async (client: EtcdClient): Promise<void> => {
    while (next < count) await call(client, method, request(next++));
  };
  await Promise.all(Array.from({ length: inFlight }, (_, i) => loop(clients[i % clients.length]!)));
}

await main();
