/** The command every launcher starts a member with: its environment, and that the pid a launcher holds is Node.js itself. */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { test } from "node:test";
import { MEMBER_ENV, memberCommand } from "../src/member-process.js";

/** What Node.js, started by the member command with `-p` (which prints and skips the member's file), says of itself. */
async function startedNode(
  env: Readonly<Record<string, string>>,
): Promise<{ childPid: number | undefined; seen: { pid: number; env: Record<string, string> } }> {
  const report = "JSON.stringify({ pid: process.pid, env: process.env })";
  const { command, args } = memberCommand([], ["-p", report], env);
  const child = spawn(command, args, { stdio: ["ignore", "pipe", "inherit"] });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const code = await new Promise((resolveExit) => child.once("close", resolveExit));
  assert.equal(code, 0);
  return { childPid: child.pid, seen: JSON.parse(output) };
}

test("a member runs with MEMBER_ENV, under the pid its launcher holds", async () => {
  const { childPid, seen } = await startedNode({});
  for (const [name, value] of Object.entries(MEMBER_ENV)) assert.equal(seen.env[name], value);
  assert.equal(seen.pid, childPid);
});

test("a launcher's own environment for a member comes after MEMBER_ENV, so that other settings can be tried", async () => {
  const { seen } = await startedNode({ MALLOC_MMAP_THRESHOLD_: "262144", MALLOC_ARENA_MAX: "2" });
  assert.equal(seen.env.MALLOC_MMAP_THRESHOLD_, "262144");
  assert.equal(seen.env.MALLOC_ARENA_MAX, "2");
});
