/**
 * The restart benchmark's CPU count of a process (processCpuMs): the
 * scheduler's nanoseconds over all its threads, against what the process
 * itself counts (getrusage, through process.cpuUsage()).
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { test } from "node:test";
import { processCpuMs } from "../src/restart-trial.js";

/** Spins until it has used 65 ms of CPU (halfway between two of /proc's ticks), prints what it used, and waits on stdin for its end. */
const SPIN = `
const used = () => { const { user, system } = process.cpuUsage(); return (user + system) / 1000; };
while (used() < 65);
process.stdout.write(String(used()));
process.stdin.resume();
`;

test("processCpuMs counts a process's CPU to within a few milliseconds of its own count", async () => {
  const child = spawn(process.execPath, ["-e", SPIN], { stdio: ["pipe", "pipe", "inherit"] });
  try {
    const [chunk] = (await once(child.stdout, "data")) as [Buffer];
    const ownCount = Number(chunk.toString());
    const counted = processCpuMs(child.pid ?? 0);
    // It runs a little after its own count (the write); /proc's 10 ms ticks would say 60 or 70.
    assert.ok(counted >= ownCount - 2 && counted <= ownCount + 4, `counted ${counted} ms, the process ${ownCount} ms`);
  } finally {
    child.stdin.end();
    await once(child, "exit");
  }
});
