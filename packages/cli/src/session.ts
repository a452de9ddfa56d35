/**
 * What a client command runs with: a Client from @raftkv/client for the
 * global options' endpoints and timeout, and the output format. The client
 * is loaded on first use (undici takes a moment to load), so --help and
 * `serve` never pay for it; its errors are worded here for the terminal.
 */
import type { Client, ClientOptions, NoEndpointAvailableError } from "@raftkv/client";
import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { UsageError, messageOf } from "./errors.js";
import { globalOptions, type GlobalOptions } from "./global-options.js";
import { clientUrlsOf, leaderEndpoint } from "./members.js";

export interface Session {
  readonly client: Client;
  readonly options: GlobalOptions;
}

/**
 * Runs `work` with a client for `command`'s global options (or for
 * `endpoints`, when a command has found the cluster's own list), and closes
 * the client afterwards, whatever happened.
 */
export async function withClient<T>(command: Command, work: (session: Session) => Promise<T>, endpoints?: readonly string[]): Promise<T> {
  const options = globalOptions(command);
  const library = await import("@raftkv/client");
  const client = connect(library, {
    endpoints: endpoints ?? options.endpoints ?? library.endpointsFromEnvironment(),
    requestTimeoutMs: options.commandTimeoutMs,
    ...securityOptions(options),
  });
  try {
    return await work({ client, options });
  } catch (error) {
    throw reworded(error);
  } finally {
    await client.close();
  }
}

/**
 * Runs `work` with a client for every member's client URLs (from the member
 * list), for commands that must reach members beyond --endpoints.
 */
export async function withClusterClient<T>(command: Command, work: (session: Session) => Promise<T>): Promise<T> {
  const { members } = await withClient(command, ({ client }) => client.cluster.memberList());
  return withClient(command, work, clientUrlsOf(members));
}

/** Runs `work` with a client for the leader alone, for the requests only a leader serves (promote). */
export async function withLeaderClient<T>(command: Command, work: (session: Session) => Promise<T>): Promise<T> {
  const leader = await withClusterClient(command, async ({ client }) => leaderEndpoint(await client.maintenance.statusAll()));
  return withClient(command, work, [leader]);
}

type ClientLibrary = typeof import("@raftkv/client");

/** etcdctl's --user, --password and TLS flags as the client's options. */
function securityOptions(options: GlobalOptions): Pick<ClientOptions, "credentials" | "tls"> {
  const { cacert, cert, key, insecureSkipTlsVerify } = options;
  const read = (file: string, flag: string): Buffer => {
    try {
      return readFileSync(file);
    } catch (error) {
      throw new UsageError(`${flag} ${file}: ${messageOf(error)}`);
    }
  };
  const tls = {
    ...(cacert ? { ca: read(cacert, "--cacert") } : {}),
    ...(cert ? { cert: read(cert, "--cert") } : {}),
    ...(key ? { key: read(key, "--key") } : {}),
    insecureSkipVerify: insecureSkipTlsVerify,
  };
  return { tls, ...(options.user === undefined ? {} : { credentials: credentialsOf(options.user, options.password) }) };
}

function credentialsOf(user: string, password: string | undefined): { user: string; password: string } {
  const colon = user.indexOf(":");
  if (password !== undefined) return { user, password };
  if (colon < 0) throw new UsageError("--user: give the password after a colon (name:password) or in --password");
  return { user: user.slice(0, colon), password: user.slice(colon + 1) };
}

function connect(library: ClientLibrary, options: ClientOptions): Client {
  try {
    return new library.Client(options);
  } catch (error) {
    // The client refuses a malformed endpoint; from RAFTKV_ENDPOINTS it got past commander's check.
    throw new UsageError(`endpoints: ${messageOf(error)}`);
  }
}

/** Errors for the terminal: the client's list of failures on one line, the rest as they are. */
function reworded(error: unknown): unknown {
  return isNoEndpointAvailable(error) ? new Error(failureMessage(error)) : error;
}

/** One line saying why a request failed: "no member answered: http://a: reason, http://b: reason" when none did. */
export function failureMessage(error: unknown): string {
  if (!isNoEndpointAvailable(error)) return messageOf(error);
  const failures = error.failures.map(({ endpoint, reason }) => `${endpoint}: ${reason}`);
  return failures.length > 0 ? `no member answered: ${failures.join(", ")}` : "no member answered within --command-timeout";
}

/** Why one endpoint, asked on its own, gave no answer: its own failure, not a list of one. */
export function endpointFailure(error: unknown): string {
  const [own] = isNoEndpointAvailable(error) && error.failures.length === 1 ? error.failures : [];
  return own?.reason ?? failureMessage(error);
}

/** By name rather than instanceof, so that this module need not load the client to know its errors. */
function isNoEndpointAvailable(error: unknown): error is NoEndpointAvailableError {
  return error instanceof Error && error.name === "NoEndpointAvailableError" && "failures" in error;
}
