/**
 * The compose deployment is well formed: Debian's docker-compose validates
 * it (no engine needed), with 3 members by default, 5 in the `five` profile,
 * two load balancers in front, and the names and ports the harness's docker
 * driver relies on, published on loopback only. Skipped, saying why, where docker-compose is missing.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { dirname, resolve } from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { DockerCluster } from "../src/harness/docker.js";

const run = promisify(execFile);
const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");

async function composeAvailable(): Promise<boolean> {
  return run("docker-compose", ["version"]).then(
    () => true,
    () => false,
  );
}

async function config(env: Record<string, string> = {}): Promise<string> {
  const { stdout } = await run("docker-compose", ["-f", "docker-compose.yml", "config"], { cwd: REPO, env: { ...process.env, ...env } });
  return stdout;
}

/**
 * Each service of a resolved config with its profiles. Compose 1.29 lists
 * every service whatever the profiles, so they are read from the config:
 * services are the two-space-indented names under `services:`.
 */
function serviceProfiles(resolved: string): Map<string, string[]> {
  const section = resolved.slice(resolved.indexOf("\nservices:\n")).split(/\n(?=\S)/)[1] ?? "";
  const parts = section.split(/^ {2}(\S+):$/m).slice(1);
  const profiles = new Map<string, string[]>();
  for (let i = 0; i < parts.length; i += 2) {
    const list = /^ {4}profiles:\n((?: {4}- .*\n?)+)/m.exec(parts[i + 1]!)?.[1] ?? "";
    profiles.set(
      parts[i]!,
      [...list.matchAll(/- (.*)/g)].map((match) => match[1]!),
    );
  }
  return profiles;
}

describe("docker-compose.yml", async () => {
  const skip = (await composeAvailable()) ? false : "docker-compose is not installed (apt-get install -y docker-compose)";

  test("is valid as it stands", { skip }, async () => {
    await run("docker-compose", ["-f", "docker-compose.yml", "config", "--quiet"], { cwd: REPO });
  });

  test("runs three members behind two load balancers by default, two more members in the five profile", { skip }, async () => {
    const profiles = serviceProfiles(await config());
    assert.deepEqual([...profiles.keys()].sort(), ["lb1", "lb2", "n1", "n2", "n3", "n4", "n5", "vip-relay"]);
    const inDefault = [...profiles].filter(([, names]) => names.length === 0).map(([name]) => name);
    assert.deepEqual(inDefault.sort(), ["lb1", "lb2", "n1", "n2", "n3"]);
    assert.deepEqual(profiles.get("n4"), ["five"]);
    assert.deepEqual(profiles.get("n5"), ["five"]);
    assert.deepEqual(profiles.get("vip-relay"), ["harness"]);
  });

  test("tells every member the cluster size it is founded with", { skip }, async () => {
    assert.equal((await config({ RAFTKV_CLUSTER_SIZE: "5" })).match(/RAFTKV_CLUSTER_SIZE: '5'/g)?.length, 5);
    assert.equal((await config()).match(/RAFTKV_CLUSTER_SIZE: '3'/g)?.length, 5);
  });

  test("names containers, volumes and client ports as the docker driver expects, and lets it rejoin a member", { skip }, async () => {
    const resolved = await config({ RAFTKV_CLUSTER_SIZE: "5" });
    const driver = new DockerCluster({ size: 5, composeFile: "docker-compose.yml" });
    for (const node of driver.nodes) {
      assert.match(resolved, new RegExp(`^    container_name: raftkv-${node}$`, "m"));
      assert.match(resolved, new RegExp(`^  ${node}-data:\n    name: raftkv-${node}-data$`, "m"));
      assert.match(resolved, new RegExp(`^    - 127\\.0\\.0\\.1:${new URL(driver.clientUrl(node)).port}:2379/tcp$`, "m"));
    }
    assert.equal(resolved.match(/RAFTKV_INITIAL_CLUSTER_STATE: new/g)?.length, 5);
    const rejoining = await config({ RAFTKV_INITIAL_CLUSTER_STATE: "existing" });
    assert.equal(rejoining.match(/RAFTKV_INITIAL_CLUSTER_STATE: existing/g)?.length, 5);
  });
});
