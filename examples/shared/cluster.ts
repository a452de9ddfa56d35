/**
 * Where the examples find raftkv: RAFTKV_ENDPOINTS if set, else the three
 * members `raftkv cluster up` starts on this machine.
 */
import { Client, ENDPOINTS_VARIABLE } from "@raftkv/client";

export const CLUSTER_UP_ENDPOINTS = ["http://127.0.0.1:2379", "http://127.0.0.1:22379", "http://127.0.0.1:32379"];

export function connect(): Client {
  const listed = process.env[ENDPOINTS_VARIABLE]?.split(",").filter((url) => url.trim() !== "");
  return new Client({ endpoints: listed && listed.length > 0 ? listed : CLUSTER_UP_ENDPOINTS });
}

/** Runs an example's main, printing a failure the way a command line tool does. */
export function runMain(main: () => Promise<void>): void {
  main().catch((error: unknown) => {
    console.error(`error: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  });
}
