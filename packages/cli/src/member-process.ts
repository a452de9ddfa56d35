/**
 * How a member process is started: the one place that says which file runs
 * a member, with which Node.js flags and in which environment. `cluster up`'s
 * supervisor, the test and benchmark clusters and the jepsen harness all
 * launch members through memberCommand(); the Docker image's entrypoint
 * starts the same file.
 */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** The bundled `raftkv serve` (build-serve.mjs), seen from dist/src/. */
export const MEMBER_ENTRY = fileURLToPath(new URL("../raftkv-serve-loader.cjs", import.meta.url));

/** Node.js flags every member runs with (V8 heap and GC settings belong here). */
export const MEMBER_NODE_FLAGS: readonly string[] = [];

/**
 * Environment every member runs with, on top of its launcher's. glibc reads
 * its allocator settings before the first allocation, so they cannot be set
 * from inside the member. A fixed mmap threshold keeps large blocks (the Raft
 * log's 1 MiB slabs, big peer frames) in mappings of their own, returned to
 * the system when freed; by default glibc raises the threshold each time
 * such a block is freed, and later ones land in the main heap, whose holes
 * it keeps (bench/README.md, "The account under load").
 * deploy/docker/entrypoint.sh sets the same for the image.
 */
export const MEMBER_ENV: Readonly<Record<string, string>> = { MALLOC_MMAP_THRESHOLD_: "131072" };

export interface MemberCommand {
  readonly command: string;
  readonly args: readonly string[];
}

/**
 * The command that runs `raftkv serve <serveFlags>`: this Node.js, the member
 * flags, then `nodeFlags` (a caller's own, such as --cpu-prof), with
 * MEMBER_ENV and then `env` (a caller's own, to try other settings) set by
 * env(1), which execs Node.js in its place: the pid a launcher holds is the
 * member's, and no launcher has to pass the environment on itself.
 */
export function memberCommand(serveFlags: readonly string[], nodeFlags: readonly string[] = [], env: Readonly<Record<string, string>> = {}): MemberCommand {
  if (!existsSync(MEMBER_ENTRY)) throw new Error(`${MEMBER_ENTRY} is missing: run \`npm run build\` at the repository root`);
  const assignments = Object.entries({ ...MEMBER_ENV, ...env }).map(([name, value]) => `${name}=${value}`);
  return { command: "/usr/bin/env", args: [...assignments, process.execPath, ...MEMBER_NODE_FLAGS, ...nodeFlags, MEMBER_ENTRY, "serve", ...serveFlags] };
}
