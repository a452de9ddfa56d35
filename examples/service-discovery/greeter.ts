/**
 * The "greeter" service both service-discovery examples run: small HTTP
 * servers on free ports that answer with their name, each registered under
 * `services/greeter/` with a TTL and heartbeating while it runs.
 */
import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Registration, ServiceRegistry } from "@raftkv/client";

export const SERVICE = "greeter";

export interface RunningInstance {
  readonly name: string;
  readonly server: Server;
  readonly registration: Registration;
}

/** An HTTP server that answers with its name, registered in the service registry with a 5 s TTL. */
export async function startInstance(registry: ServiceRegistry, name: string, weight: number): Promise<RunningInstance> {
  const server = createServer((_request, response) => response.end(name));
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  const registration = await registry.register(SERVICE, { id: name, address: "127.0.0.1", port, meta: { weight } }, { ttl: 5 });
  return { name, server, registration };
}

/** Asks an instance for its name. */
export async function greet(address: string, port: number): Promise<string> {
  return (await fetch(`http://${address}:${port}/`)).text();
}

/** Deregisters, then closes the server. */
export async function stopInstance(instance: RunningInstance): Promise<void> {
  await instance.registration.deregister();
  instance.server.close();
  instance.server.closeAllConnections();
}

/** Makes `count` requests (each resolving with the name of the instance that answered) and counts the answers by instance. */
export async function spread(count: number, request: () => Promise<string>): Promise<string> {
  const answers = new Map<string, number>();
  for (let i = 0; i < count; i++) {
    const name = await request();
    answers.set(name, (answers.get(name) ?? 0) + 1);
  }
  return [...answers]
    .sort()
    .map(([name, n]) => `${name}=${n}`)
    .join(" ");
}
