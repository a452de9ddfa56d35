/**
 * Service registration, discovery and client-side load balancing. Three
 * instances of a small HTTP "greeter" service start on free ports and
 * register under `services/greeter/` with a TTL, heartbeating while they
 * run. A caller keeps a live view of the instances and spreads its requests
 * over them with a picker; when an instance stops, it leaves the view and
 * the picker stops sending it anything.
 *
 *   node examples/dist/service-discovery/main.js [round-robin|random|weighted|least-outstanding]
 */
import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { type PickStrategy, type Registration, type ServicePicker, ServiceRegistry, type ServiceView } from "@raftkv/client";
import { connect, runMain } from "../shared/cluster.js";

const SERVICE = "greeter";
const STRATEGIES: readonly PickStrategy[] = ["round-robin", "random", "weighted", "least-outstanding"];

interface RunningInstance {
  readonly name: string;
  readonly server: Server;
  readonly registration: Registration;
}

runMain(async () => {
  const strategy = parseStrategy(process.argv[2]);
  const client = connect();
  const registry = new ServiceRegistry(client);

  // Each instance gets its own weight, which only the weighted picker uses.
  const instances = await Promise.all([1, 2, 3].map((n) => startInstance(registry, `greeter-${n}`, n)));
  const view = await registry.watch(SERVICE);
  view.on("change", (change) => console.log(change.kind === "register" ? `+ ${change.instance.id} registered` : `- ${change.id} deregistered`));
  console.log(`discovered ${view.instances.map((instance) => `${instance.id} (${instance.address}:${instance.port})`).join(", ")}`);

  const picker = view.picker(strategy);
  console.log(`9 requests, ${strategy}: ${await spread(picker, 9)}`);

  const [, stopping] = instances;
  if (stopping) await stopInstance(stopping, view);
  console.log(`6 requests, ${strategy}: ${await spread(picker, 6)}`);

  view.close();
  for (const instance of instances) if (instance !== stopping) await stopInstance(instance, undefined);
  await client.close();
  console.log("done");
});

/** An HTTP server that answers with its name, registered in the service registry. */
async function startInstance(registry: ServiceRegistry, name: string, weight: number): Promise<RunningInstance> {
  const server = createServer((_request, response) => response.end(name));
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  const registration = await registry.register(SERVICE, { id: name, address: "127.0.0.1", port, meta: { weight } }, { ttl: 5 });
  return { name, server, registration };
}

/** Deregisters first, so that no caller picks the instance while it shuts down; waits for the view to notice. */
async function stopInstance(instance: RunningInstance, view: ServiceView | undefined): Promise<void> {
  const gone = view && once(view, "change");
  await instance.registration.deregister();
  await gone;
  instance.server.close();
  instance.server.closeAllConnections();
}

/** Sends `count` requests through the picker and counts the answers by instance. */
async function spread(picker: ServicePicker, count: number): Promise<string> {
  const answers = new Map<string, number>();
  for (let i = 0; i < count; i++) {
    const name = await picker.run(async (instance) => (await fetch(`http://${instance.address}:${instance.port}/`)).text());
    answers.set(name, (answers.get(name) ?? 0) + 1);
  }
  return [...answers].sort().map(([name, n]) => `${name}=${n}`).join(" ");
}

function parseStrategy(argument: string | undefined): PickStrategy {
  if (argument === undefined) return "round-robin";
  const strategy = STRATEGIES.find((candidate) => candidate === argument);
  if (!strategy) throw new Error(`unknown strategy "${argument}": expected one of ${STRATEGIES.join(", ")}`);
  return strategy;
}
