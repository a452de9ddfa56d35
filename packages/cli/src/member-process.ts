/**
 * How a member process is started: the one place that says which file runs
 * a member and with which Node.js flags. `cluster up`'s supervisor, the test
 * and benchmark clusters and the jepsen harness all launch members through
 * memberCommand(); the Docker image's entrypoint starts the same file.
 */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** The bundled `raftkv serve` (build-serve.mjs), seen from dist/src/. */
export const MEMBER_ENTRY = fileURLToPath(new URL("../raftkv-serve.js", import.meta.url));

/** Node.js flags every member runs with (V8 heap and GC settings belong here). */
export const MEMBER_NODE_FLAGS: readonly string[] = [];

export interface MemberCommand {
  readonly command: string;
  readonly args: readonly string[];
}

/**
 * The command that runs `raftkv serve <serveFlags>`: this Node.js, the member
 * flags, then `nodeFlags` (a caller's own, such as --cpu-prof).
 */
export function memberCommand(serveFlags: readonly string[], nodeFlags: readonly string[] = []): MemberCommand {
  if (!existsSync(MEMBER_ENTRY)) throw new Error(`${MEMBER_ENTRY} is missing: run \`npm run build\` at the repository root`);
  return { command: process.execPath, args: [...MEMBER_NODE_FLAGS, ...nodeFlags, MEMBER_ENTRY, "serve", ...serveFlags] };
}
