/**
 * The CPU one member spends per put to a key with many watchers, counted
 * rather than timed, for A/B comparisons of the watch fan-out on a noisy
 * machine: a one-member cluster (no replication to share the cores with),
 * the watchers on a few Watch streams from this process, and puts one at a
 * time, each once every watcher has the last one's event. The member's CPU
 * time (from /proc) over the counted puts, divided by their number.
 * With `--pace ack`, each put follows as soon as the last is acknowledged,
 * as the grpc command's watch row puts (a member may then send a watcher
 * several puts' events in one response), and the count ends once every
 * watcher has the last put's event. With `--progress-notify`, every watch
 * asks for progress notifications, as Kubernetes' apiserver does.
 * Run: pnpm --filter @raftkv/bench grpc-fan-out-cpu [--systems raftkv,etcd] [--watchers 1000] [--puts 200] [--pace seen|ack] [--progress-notify] [--profile DIR]
 * (--profile: the raftkv member under node --cpu-prof, its profile in DIR as m1-leader.cpuprofile)
 */
import { parseArgs } from "node:util";
import { resolve } from "node:path";
import { LocalCluster, etcdInstalled, profilingFlags, stopSideBySide } from "./clusters.js";
import { parseSystem, positive } from "./grpc/options.js";
import { call, connect, ready, type EtcdClient, type Message } from "./grpc/protos.js";
import { sampleProcess } from "./throughput/proc.js";
import { VALUE } from "./throughput/workloads.js";

const KEY = Buffer.from("fan-out-key");
const STREAMS = 4;
const WARM_UP_PUTS = 30;
const CONNECT_TIMEOUT_MS = 10_000;

interface FanOut {
  /** Resolves once every watcher has the event of `revision`. */
  seen(revision: number): Promise<void>;
  /** Events received so far, and the responses that carried them (a member may send a watcher several puts' events in one). */
  received(): { readonly events: number; readonly responses: number };
  close(): void;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      systems: { type: "string" },
      watchers: { type: "string", default: "1000" },
      puts: { type: "string", default: "200" },
      "base-port": { type: "string", default: "23500" },
      profile: { type: "string" },
      pace: { type: "string", default: "seen" },
      "progress-notify": { type: "boolean", default: false },
    },
  });
  const pace = parsePace(values.pace);
  const profileDir = values.profile === undefined ? undefined : resolve(values.profile);
  const systems = (values.systems ?? (etcdInstalled() ? "raftkv,etcd" : "raftkv")).split(",").map(parseSystem);
  const [watchers, puts, basePort] = [positive(values.watchers), positive(values.puts), positive(values["base-port"])];
  for (const system of systems) {
    const cluster = await LocalCluster.start(system, basePort + (system === "etcd" ? 100 : 0), 1, { nodeFlags: await profilingFlags(profileDir) });
    try {
      const { cpuMs, eventsPerResponse } = await cpuPerPut(cluster, { watchers, progressNotify: values["progress-notify"] }, puts, pace);
      console.log(
        `${system.padEnd(6)} member CPU per put to ${watchers} watchers: ${cpuMs.toFixed(2)} ms (${((cpuMs * 1000) / watchers).toFixed(2)} µs per event, ${eventsPerResponse.toFixed(2)} events per response), ${puts} puts, each after the last was ${pace}${values["progress-notify"] ? ", progress notifications asked for" : ""}`,
      );
    } finally {
      await stopSideBySide([cluster], profileDir);
    }
  }
}

/** What each put waits for: every watcher's event of the last put ("seen"), or only its acknowledgement ("ack"). */
type Pace = "seen" | "ack";

function parsePace(text: string): Pace {
  if (text === "seen" || text === "ack") return text;
  throw new Error(`--pace takes seen or ack, not ${text}`);
}

/** How many watches of KEY, and whether they ask for progress notifications. */
interface Watchers {
  readonly watchers: number;
  readonly progressNotify: boolean;
}

async function cpuPerPut(cluster: LocalCluster, watchers: Watchers, puts: number, pace: Pace): Promise<{ cpuMs: number; eventsPerResponse: number }> {
  const member = await cluster.waitForLeader(CONNECT_TIMEOUT_MS);
  const address = new URL(member.clientUrl).host;
  const writer = connect("KV", address);
  await ready(writer, CONNECT_TIMEOUT_MS);
  const fanOut = await watch(address, watchers);
  try {
    const put = async (): Promise<number> => Number((await call(writer, "Put", { key: KEY, value: Buffer.from(VALUE) })).header.revision);
    const putAll = async (count: number): Promise<void> => {
      let revision = 0;
      for (let i = 0; i < count; i++) {
        revision = await put();
        if (pace === "seen") await fanOut.seen(revision);
      }
      if (pace === "ack") await fanOut.seen(revision);
    };
    await putAll(WARM_UP_PUTS);
    const pid = member.process!.pid!;
    const [before, receivedBefore] = [sampleProcess(pid), fanOut.received()];
    await putAll(puts);
    const cpuMs = ((sampleProcess(pid).cpuS - before.cpuS) * 1000) / puts;
    const received = fanOut.received();
    return { cpuMs, eventsPerResponse: (received.events - receivedBefore.events) / (received.responses - receivedBefore.responses) };
  } finally {
    fanOut.close();
    writer.close();
  }
}

/** The watches of KEY spread over STREAMS streams, all created before it resolves. */
async function watch(address: string, { watchers, progressNotify }: Watchers): Promise<FanOut> {
  const clients: EtcdClient[] = Array.from({ length: STREAMS }, () => connect("Watch", address));
  const seenBy = new Map<number, number>();
  const waiting = new Map<number, () => void>();
  // etcd often sends the events before the put's answer.
  const seenByAll = new Set<number>();
  let created = 0;
  let eventsReceived = 0;
  let responsesWithEvents = 0;
  let allCreated: () => void = () => undefined;
  const creating = new Promise<void>((resolve) => (allCreated = resolve));
  const streams = clients.map((client, i) => {
    const stream = client.Watch();
    stream.on("data", (response: Message) => {
      if (response.created && ++created === watchers) allCreated();
      const events = (response.events ?? []) as Message[];
      if (events.length > 0) {
        eventsReceived += events.length;
        responsesWithEvents++;
      }
      for (const event of events) {
        const revision = Number(event.kv.mod_revision);
        const count = (seenBy.get(revision) ?? 0) + 1;
        seenBy.set(revision, count);
        if (count === watchers) {
          seenBy.delete(revision);
          const waiter = waiting.get(revision);
          if (waiter) waiter();
          else seenByAll.add(revision);
        }
      }
    });
    stream.on("error", () => undefined);
    for (let w = i; w < watchers; w += STREAMS) stream.write({ create_request: { key: KEY, progress_notify: progressNotify } });
    return stream;
  });
  await creating;
  return {
    seen: (revision) =>
      new Promise((resolve) => {
        if (seenByAll.delete(revision)) resolve();
        else waiting.set(revision, resolve);
      }),
    received: () => ({ events: eventsReceived, responses: responsesWithEvents }),
    close() {
      for (const stream of streams) stream.cancel();
      for (const client of clients) client.close();
    },
  };
}

await main();
