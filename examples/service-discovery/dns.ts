/**
 * The same greeter service, discovered by DNS instead of the client
 * library: a caller that knows nothing of raftkv asks a member's DNS for
 * `greeter.service.raftkv` SRV records with Node's own resolver, and sends
 * each request to the first instance of the answer. Each answer starts one
 * instance further on, so the requests go round the instances.
 *
 *   node examples/dist/service-discovery/dns.js
 *
 * The DNS server is RAFTKV_DNS (host:port) if set, else `cluster up`'s
 * first member, 127.0.0.1:8600.
 */
import { Resolver } from "node:dns/promises";
import { setTimeout as delay } from "node:timers/promises";
import { ServiceRegistry } from "@raftkv/client";
import { connect, runMain } from "../shared/cluster.js";
import { SERVICE, greet, spread, startInstance, stopInstance } from "./greeter.js";

const DNS_VARIABLE = "RAFTKV_DNS";
const CLUSTER_UP_DNS = "127.0.0.1:8600";
const NAME = `${SERVICE}.service.raftkv`;

runMain(async () => {
  const client = connect();
  const registry = new ServiceRegistry(client);
  const resolver = new Resolver({ timeout: 2_000, tries: 2 });
  resolver.setServers([process.env[DNS_VARIABLE] || CLUSTER_UP_DNS]);

  const instances = await Promise.all([1, 2, 3].map((n) => startInstance(registry, `greeter-${n}`, n)));
  // The member answers from its own state, which follows the write within a heartbeat or so.
  console.log(`${NAME} SRV: ${await untilListed(resolver, instances.length)} instances`);
  const viaDns = async (): Promise<string> => {
    const [first] = await resolver.resolveSrv(NAME);
    if (!first) throw new Error(`${NAME} has no SRV records`);
    // An SRV target names the instance's address; the member answers for it too.
    const [address] = await resolver.resolve4(first.name);
    return greet(address ?? first.name, first.port);
  };
  console.log(`6 requests by DNS: ${await spread(6, viaDns)}`);

  const [, stopping] = instances;
  if (stopping) await stopInstance(stopping);
  console.log(`- ${stopping?.name} deregistered; ${NAME} SRV: ${await untilListed(resolver, instances.length - 1)} instances`);
  console.log(`6 requests by DNS: ${await spread(6, viaDns)}`);

  for (const instance of instances) if (instance !== stopping) await stopInstance(instance);
  await client.close();
  console.log("done");
});

/** How many SRV records the name has, once it has `count` of them (within 10 s). */
async function untilListed(resolver: Resolver, count: number): Promise<number> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const listed = await resolver.resolveSrv(NAME).catch(() => []);
    if (listed.length === count || Date.now() > deadline) return listed.length;
    await delay(50);
  }
}
