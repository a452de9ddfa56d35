/**
 * The docker driver without a docker engine: a recording command runner
 * stands in for docker and docker-compose, and each fault, asked for through
 * the ClusterDriver interface the nemesis uses, must come out as the docker
 * commands that carry it out on the compose cluster.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { HarnessError } from "../src/harness/cluster.js";
import { DockerCluster, type CommandRunner } from "../src/harness/docker.js";
import { splitInto } from "../src/harness/grudge.js";
import { Nemesis } from "../src/harness/nemesis.js";
import { Random } from "../src/harness/random.js";
import { Recorder } from "../src/harness/recorder.js";

interface Call {
  readonly argv: string;
  readonly env: Readonly<Record<string, string>>;
}

/** A cluster whose commands are recorded; `docker inspect` answers 172.20.0.<member number>. */
function recorded(size: 3 | 5 = 3): { cluster: DockerCluster; calls: Call[]; argv: () => string[] } {
  const calls: Call[] = [];
  const run: CommandRunner = async (command, args, env = {}) => {
    calls.push({ argv: [command, ...args].join(" "), env });
    return command === "docker" && args[0] === "inspect" ? `172.20.0.${args.at(-1)!.replace("raftkv-n", "")}\n` : "";
  };
  const cluster = new DockerCluster({ size, composeFile: "/repo/docker-compose.yml", run });
  return { cluster, calls, argv: () => calls.splice(0).map((call) => call.argv) };
}

const INSPECT = "docker inspect --format {{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}";

describe("the docker driver", () => {
  test("starts the compose project with the cluster's size, then learns each member's address", async () => {
    const { cluster, calls, argv } = recorded();
    await cluster.start();
    assert.deepEqual(calls[0]?.env, { RAFTKV_CLUSTER_SIZE: "3" });
    assert.deepEqual(argv(), [
      "docker-compose --file /repo/docker-compose.yml up --detach --no-build",
      `${INSPECT} raftkv-n1`,
      `${INSPECT} raftkv-n2`,
      `${INSPECT} raftkv-n3`,
    ]);
  });

  test("five members come from the compose file's five profile", async () => {
    const { cluster, calls } = recorded(5);
    await cluster.start();
    assert.equal(calls[0]?.argv, "docker-compose --file /repo/docker-compose.yml --profile five up --detach --no-build");
    assert.deepEqual(calls[0]?.env, { RAFTKV_CLUSTER_SIZE: "5" });
    assert.deepEqual(cluster.nodes, ["n1", "n2", "n3", "n4", "n5"]);
    assert.equal(cluster.clientUrl("n4"), "http://127.0.0.1:23794");
    assert.equal(cluster.peerUrl("n4"), "http://n4:2380");
  });

  test("kill, restart, pause and resume are docker kill -s KILL, start, pause and unpause", async () => {
    const { cluster, argv } = recorded();
    await cluster.kill("n2");
    await cluster.restart("n2");
    await cluster.pause("n3");
    await cluster.resume("n3");
    assert.deepEqual(argv(), ["docker kill --signal KILL raftkv-n2", "docker start raftkv-n2", "docker pause raftkv-n3", "docker unpause raftkv-n3"]);
  });

  test("a partition is DROP rules inside the containers, after flushing the last one; healing flushes them", async () => {
    const { cluster, argv } = recorded();
    await cluster.start();
    argv();
    await cluster.partition(splitInto([["n1"], ["n2", "n3"]]));
    assert.deepEqual(argv(), [
      "docker exec raftkv-n1 iptables -F INPUT",
      "docker exec raftkv-n2 iptables -F INPUT",
      "docker exec raftkv-n3 iptables -F INPUT",
      "docker exec raftkv-n1 iptables -A INPUT -s 172.20.0.2 -j DROP",
      "docker exec raftkv-n1 iptables -A INPUT -s 172.20.0.3 -j DROP",
      "docker exec raftkv-n2 iptables -A INPUT -s 172.20.0.1 -j DROP",
      "docker exec raftkv-n3 iptables -A INPUT -s 172.20.0.1 -j DROP",
    ]);
    await cluster.heal();
    assert.deepEqual(argv(), ["docker exec raftkv-n1 iptables -F INPUT", "docker exec raftkv-n2 iptables -F INPUT", "docker exec raftkv-n3 iptables -F INPUT"]);
  });

  test("a partition that cuts with resets answers the peer's packets with TCP resets, and lets resets through", async () => {
    const { cluster, argv } = recorded();
    await cluster.start();
    argv();
    await cluster.partition(splitInto([["n1"], ["n2", "n3"]]), "reset");
    assert.equal(argv()[3], "docker exec raftkv-n1 iptables -A INPUT -s 172.20.0.2 -p tcp ! --tcp-flags RST RST -j REJECT --reject-with tcp-reset");
  });

  test("a partition before the cluster started is refused: there are no addresses to cut", async () => {
    const { cluster } = recorded();
    await assert.rejects(cluster.partition(splitInto([["n1"], ["n2", "n3"]])), /no address for/);
  });

  test("rejoining replaces the container and its volume with empty ones told to join the existing cluster", async () => {
    const { cluster, calls, argv } = recorded();
    await cluster.rejoin("n2");
    assert.deepEqual(calls[2]?.env, { RAFTKV_CLUSTER_SIZE: "3", RAFTKV_INITIAL_CLUSTER_STATE: "existing" });
    assert.deepEqual(argv(), [
      "docker rm --force raftkv-n2",
      "docker volume rm --force raftkv-n2-data",
      "docker-compose --file /repo/docker-compose.yml up --detach --no-deps n2",
      `${INSPECT} raftkv-n2`,
    ]);
  });

  test("teardown removes the project with its volumes; clocks cannot be skewed, links throttled nor disks broken", async () => {
    const { cluster, argv } = recorded();
    await cluster.teardown();
    assert.deepEqual(argv(), ["docker-compose --file /repo/docker-compose.yml down --volumes"]);
    await assert.rejects(cluster.skewClock(), HarnessError);
    await assert.rejects(cluster.throttle(), HarnessError);
    await assert.rejects(cluster.breakDisk(), HarnessError);
    assert.deepEqual([...cluster.unsupported].sort(), ["clock", "disk-fail", "disk-full", "throttle"]);
  });

  test("the shared nemesis drives it: each fault and its undoing, in order, then healing", async () => {
    const { cluster, argv } = recorded();
    await cluster.start();
    argv();
    const recorder = new Recorder();
    const nemesis = new Nemesis(cluster, recorder, new Random(1), [
      { startMs: 0, endMs: 0, fault: { kind: "kill", target: "random" } },
      { startMs: 0, endMs: 0, fault: { kind: "pause", target: "random" } },
      { startMs: 0, endMs: 0, fault: { kind: "partition", shape: "halves" } },
    ]);
    await nemesis.run(new AbortController().signal);
    await nemesis.healAll();
    const commands = argv();
    assert.match(commands[0]!, /^docker kill --signal KILL raftkv-n\d$/);
    assert.equal(commands[1], commands[0]!.replace(/kill --signal KILL/, "start"));
    assert.match(commands[2]!, /^docker pause raftkv-n\d$/);
    assert.equal(commands[3], commands[2]!.replace("pause", "unpause"));
    const drops = commands.filter((command) => command.includes("-j DROP"));
    assert.equal(drops.length, 4, "halves of three cut two links, each dropped on both sides");
    assert.deepEqual(commands.slice(-3), [
      "docker exec raftkv-n1 iptables -F INPUT",
      "docker exec raftkv-n2 iptables -F INPUT",
      "docker exec raftkv-n3 iptables -F INPUT",
    ]);
    assert.equal(recorder.events.filter((event) => event.f === "start").length, 3);
  });

  test("through the virtual IP, clients use the harness profile's relay, and the balancer nemesis kills whichever balancer holds the address", async () => {
    const calls: string[] = [];
    const run: CommandRunner = async (command, args) => {
      calls.push([command, ...args].join(" "));
      const holdsAddress = args[0] === "exec" && args[1] === "raftkv-lb2";
      return holdsAddress ? "2: eth0    inet 10.79.0.3/24 brd 10.79.0.255\n2: eth0    inet 10.79.0.100/24 scope global secondary eth0\n" : "";
    };
    const cluster = new DockerCluster({ size: 3, composeFile: "/repo/docker-compose.yml", throughVirtualIp: true, run });
    await cluster.teardown();
    assert.equal(calls.splice(0)[0], "docker-compose --file /repo/docker-compose.yml --profile harness down --volumes");
    assert.equal(cluster.balancedUrl, "http://127.0.0.1:23780");
    const recorder = new Recorder();
    const nemesis = new Nemesis(cluster, recorder, new Random(1), [{ startMs: 0, endMs: 0, fault: { kind: "balancer" } }]);
    await nemesis.run(new AbortController().signal);
    assert.deepEqual(
      calls.filter((call) => !call.includes(" exec ")),
      ["docker kill --signal KILL raftkv-lb2", "docker start raftkv-lb2"],
    );
    assert.equal(new DockerCluster({ size: 3, composeFile: "x" }).balancedUrl, undefined, "members are asked directly by default");
  });
});
