/**
 * Finds ports already taken, so `cluster up` can refuse with one clear error
 * instead of starting nodes that fail one by one.
 *
 * It connects rather than binds: a probe that binds would itself hold the
 * port for a moment, and could make a process starting at the same time fail.
 */
import { connect } from "node:net";

/** Long enough for any loopback connection; only a filtered port gets near it. */
const CONNECT_TIMEOUT_MS = 1_000;

/** Those of `ports` on which something on `host` accepts connections. */
export async function portsInUse(host: string, ports: readonly number[]): Promise<number[]> {
  const answers = await Promise.all(ports.map((port) => acceptsConnections(host, port)));
  return ports.filter((_, index) => answers[index]);
}

function acceptsConnections(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, timeout: CONNECT_TIMEOUT_MS });
    const answer = (accepted: boolean): void => {
      socket.destroy();
      resolve(accepted);
    };
    socket.once("connect", () => answer(true));
    socket.once("timeout", () => answer(false));
    socket.once("error", () => answer(false));
  });
}
