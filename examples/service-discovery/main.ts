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
import { type PickStrategy, type ServicePicker, ServiceRegistry, type ServiceView } from "@raftkv/client";
import { connect, runMain } from "../shared/cluster.js";
import { SERVICE, greet, spread as spreadOver, startInstance, stopInstance as deregisterAndClose, type RunningInstance } from "./greeter.js";

const STRATEGIES: readonly PickStrategy[] = ["round-robin", "random", "weighted", "least-outstanding"];

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

/** Deregisters first, so that no caller picks the instance while it shuts down; waits for the view to notice. */
async function stopInstance(instance: RunningInstance, view: ServiceView | undefined): Promise<void> {
  const gone = view && once(view, "change");
  await deregisterAndClose(instance);
  await gone;
}

/** Sends `count` requests through the picker and counts the answers by instance. */
function spread(picker: ServicePicker, count: number): Promise<string> {
  return spreadOver(count, () => picker.run((instance) => greet(instance.address, instance.port ?? 80)));
}

function parseStrategy(argument: string | undefined): PickStrategy {
  if (argument === undefined) return "round-robin";
  const strategy = STRATEGIES.find((candidate) => candidate === argument);
  if (!strategy) throw new Error(`unknown strategy "${argument}": expected one of ${STRATEGIES.join(", ")}`);
  return strategy;
}
