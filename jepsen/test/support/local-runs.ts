/** What the tests' short runs on the local driver share: why they cannot run here, and their settings. */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import type { RunOptions } from "../../src/harness/run.js";
import { DEFAULT_TIMING } from "../../src/harness/targets.js";

const run = promisify(execFile);

/** Why runs in network namespaces cannot happen on this machine, or false when they can; `tools` are also needed. */
export async function whyNoNamespaces(...tools: ("iptables" | "tc")[]): Promise<string | false> {
  if (process.getuid?.() !== 0) return "network namespaces need root";
  const checks = [run("ip", ["netns", "list"]), ...tools.map((tool) => run(tool, [tool === "tc" ? "-V" : "--version"]))];
  return Promise.all(checks).then(
    () => false as const,
    (error: unknown) => `ip netns${tools.map((tool) => `, ${tool}`).join("")} unavailable: ${error instanceof Error ? error.message : String(error)}`,
  );
}

/** A 20-second run on 3 raftkv members over the gateway, faults every 3 s; `overrides` say what the test is about. */
export function shortRun(overrides: Partial<RunOptions> & Pick<RunOptions, "workload" | "out">): RunOptions {
  return {
    target: "raftkv",
    timing: DEFAULT_TIMING,
    protocol: "http",
    nemesis: ["partition", "kill"],
    timeSeconds: 20,
    nodes: 3,
    seed: 11,
    concurrency: 6,
    serveFlags: [],
    driver: "local",
    composeFile: "docker-compose.yml",
    opTimeoutMs: 1_000,
    faultIntervalMs: 3_000,
    checkTimeoutMs: 60_000,
    ...overrides,
  };
}
