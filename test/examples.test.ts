/**
 * Runs each example in examples/ against a real 3-member cluster, as its
 * README says, and checks the lines it prints: the examples are
 * documentation that must keep working.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { ProcessCluster, freePort } from "./support/process-cluster.js";

/** The compiled examples, from this file's place in test/dist/. */
const EXAMPLES = fileURLToPath(new URL("../../examples/dist", import.meta.url));

describe("examples/ against a real cluster", () => {
  let cluster: ProcessCluster;
  const dnsAddresses = new Map<string, string>();
  before(async () => {
    cluster = await ProcessCluster.start({
      size: 3,
      memberFlags: async (name) => {
        dnsAddresses.set(name, `127.0.0.1:${await freePort()}`);
        return [`--dns-addr=${dnsAddresses.get(name)}`];
      },
    });
  });
  after(async () => cluster?.stop());

  async function run(script: string, ...args: string[]): Promise<string[]> {
    const [example, file = "main"] = script.split("/");
    const endpoints = cluster.members.map((member) => member.clientUrl).join(",");
    const { stdout } = await promisify(execFile)(process.execPath, [join(EXAMPLES, example!, `${file}.js`), ...args], {
      env: { ...process.env, RAFTKV_ENDPOINTS: endpoints, RAFTKV_DNS: dnsAddresses.get("n1") },
      timeout: 30_000,
    });
    return stdout.trim().split("\n");
  }

  test("config-reload: loads the settings and applies every change", async () => {
    assert.deepEqual(
      (await run("config-reload")).map((line) => line.replace(/revision \d+/, "revision N")),
      [
        "loaded config/demo-app/ at revision N: log_level=info poll_interval_ms=1000",
        'reloaded: log_level = "debug" (was "info") -> log_level=debug poll_interval_ms=1000',
        "reloaded: poll_interval_ms = 250 -> log_level=debug poll_interval_ms=250",
        'reloaded: log_level deleted (was "debug") -> log_level=info poll_interval_ms=250',
        "done",
      ],
    );
  });

  test("locked-job: holders in token order, the stalled holder's write refused by the fence", async () => {
    const lines = await run("locked-job");
    const tokens = lines.flatMap((line) => /holds locks\/nightly-report with fencing token (\d+)/.exec(line)?.[1] ?? []).map(Number);
    assert.equal(tokens.length, 3, lines.join("\n"));
    assert.deepEqual(
      [...tokens].sort((a, b) => a - b),
      tokens,
      "the lock passes to contenders with growing tokens",
    );
    assert.equal(lines.filter((line) => / lost the lock while working: /.test(line)).length, 1);
    assert.equal(lines.filter((line) => /: write refused, token \d+ no longer holds the lock$/.test(line)).length, 1);
    assert.match(lines.at(-1) ?? "", /^report written by worker-\d \(token (\d+)\); 2 runs written with tokens \d+ < \1; 1 stale write refused$/);
  });

  test("service-discovery: requests spread over the instances, none to one that left", async () => {
    const lines = await run("service-discovery");
    assert.match(lines[0] ?? "", /^discovered greeter-1 \(127\.0\.0\.1:\d+\), greeter-2 \(127\.0\.0\.1:\d+\), greeter-3 \(127\.0\.0\.1:\d+\)$/);
    assert.deepEqual(lines.slice(1), [
      "9 requests, round-robin: greeter-1=3 greeter-2=3 greeter-3=3",
      "- greeter-2 deregistered",
      "6 requests, round-robin: greeter-1=3 greeter-3=3",
      "done",
    ]);
    const weighted = await run("service-discovery", "weighted");
    assert.ok(weighted.includes("9 requests, weighted: greeter-1=2 greeter-2=3 greeter-3=4"), weighted.join("\n"));
  });

  test("service-discovery by DNS: SRV answers go round the instances, and drop one that left", async () => {
    assert.deepEqual(await run("service-discovery/dns"), [
      "greeter.service.raftkv SRV: 3 instances",
      "6 requests by DNS: greeter-1=2 greeter-2=2 greeter-3=2",
      "- greeter-2 deregistered; greeter.service.raftkv SRV: 2 instances",
      "6 requests by DNS: greeter-1=3 greeter-3=3",
      "done",
    ]);
  });
});
