/** The layout of a `cluster up` cluster, worked out before any process starts. */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { InvalidArgumentError } from "commander";
import { bannerFor, memberServeFlags, parseClusterSize, planLocalCluster, type ClusterSize, type MemberPlan } from "../src/local-cluster/plan.js";
import { securePlan } from "../src/local-cluster/tls.js";
import { nodeConfigFrom } from "../src/serve-flags.js";

const member = (name: string, clientPort: number, dataDir: string): MemberPlan => ({
  name,
  clientPort,
  peerPort: clientPort + 1,
  dnsPort: 8599 + Number(name.slice(1)),
  clientUrl: `http://127.0.0.1:${clientPort}`,
  peerUrl: `http://127.0.0.1:${clientPort + 1}`,
  dnsAddr: `127.0.0.1:${8599 + Number(name.slice(1))}`,
  dataDir,
});

const layouts: { size: ClusterSize; members: MemberPlan[]; initialCluster: string }[] = [
  {
    size: 3,
    members: [member("n1", 2379, "/d/n1"), member("n2", 22379, "/d/n2"), member("n3", 32379, "/d/n3")],
    initialCluster: "n1=http://127.0.0.1:2380,n2=http://127.0.0.1:22380,n3=http://127.0.0.1:32380",
  },
  {
    size: 5,
    members: [
      member("n1", 2379, "/d/n1"),
      member("n2", 22379, "/d/n2"),
      member("n3", 32379, "/d/n3"),
      member("n4", 42379, "/d/n4"),
      member("n5", 52379, "/d/n5"),
    ],
    initialCluster: "n1=http://127.0.0.1:2380,n2=http://127.0.0.1:22380,n3=http://127.0.0.1:32380," + "n4=http://127.0.0.1:42380,n5=http://127.0.0.1:52380",
  },
];

for (const { size, members, initialCluster } of layouts) {
  test(`a ${size}-node local cluster: names, ports, data dirs, initial cluster`, () => {
    assert.deepEqual(planLocalCluster(size, "/d"), { dataDir: "/d", members, initialCluster });
  });

  test(`every member of a ${size}-node cluster gets a valid configuration of its own`, async () => {
    const plan = planLocalCluster(size, "/d");
    const configs = await Promise.all(plan.members.map((each) => nodeConfigFrom(memberServeFlags(plan, each), {})));
    for (const [index, config] of configs.entries()) {
      const planned = members[index];
      assert.equal(config.name, planned?.name);
      assert.equal(config.dataDir, planned?.dataDir);
      assert.deepEqual(config.listenClientUrls, [planned?.clientUrl]);
      assert.deepEqual(config.advertiseClientUrls, [planned?.clientUrl]);
      assert.deepEqual(config.initialAdvertisePeerUrls, [planned?.peerUrl]);
      assert.equal(config.dnsAddr, planned?.dnsAddr);
      assert.equal(config.initialClusterState, "new");
      assert.equal(config.initialCluster.size, size);
    }
  });
}

test("--tls: every member serves https:// to clients and speaks mutual TLS to the others, with certificates openssl made", async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), "raftkv-plan-"));
  t.after(() => rm(dataDir, { recursive: true, force: true }));
  const secure = await securePlan(planLocalCluster(3, dataDir));
  assert.equal(secure.plan.initialCluster, "n1=https://127.0.0.1:2380,n2=https://127.0.0.1:22380,n3=https://127.0.0.1:32380");
  for (const each of secure.plan.members) {
    const config = await nodeConfigFrom({ ...memberServeFlags(secure.plan, each), ...secure.flagsFor(each) }, {});
    assert.deepEqual(config.listenClientUrls, [`https://127.0.0.1:${each.clientPort}`]);
    assert.deepEqual(config.listenPeerUrls, [`https://127.0.0.1:${each.peerPort}`]);
    assert.equal(config.peerCertFile, join(dataDir, "tls", `${each.name}.crt`));
    assert.equal(config.peerKeyFile, join(dataDir, "tls", `${each.name}.key`));
    assert.deepEqual([config.peerTrustedCaFile, config.peerClientCertAuth], [secure.caFile, true]);
  }
});

test("--nodes takes 3 or 5", () => {
  assert.equal(parseClusterSize("3"), 3);
  assert.equal(parseClusterSize("5"), 5);
  for (const wrong of ["4", "1", "five", ""]) assert.throws(() => parseClusterSize(wrong), InvalidArgumentError);
});

test("the banner lists the endpoints and example requests for both APIs", () => {
  const banner = bannerFor(planLocalCluster(3, "/d"), false);
  assert.match(banner, /starting a new 3-node cluster on 127\.0\.0\.1, data in \/d/);
  assert.ok(banner.includes("Client endpoints: http://127.0.0.1:2379,http://127.0.0.1:22379,http://127.0.0.1:32379"));
  assert.ok(banner.includes("Dashboard: http://127.0.0.1:2379/ui/"));
  assert.match(banner, /n1 {2}client .* dns 127\.0\.0\.1:8600 /);
  assert.match(banner, /n3 {2}client .* dns 127\.0\.0\.1:8602 /);
  assert.ok(banner.includes("dig @127.0.0.1 -p 8600 web.service.raftkv SRV"));
  assert.ok(banner.includes("curl -X PUT http://127.0.0.1:2379/v1/kv/foo -d bar"));
  assert.ok(banner.includes("curl http://127.0.0.1:22379/v1/kv/foo"));
  assert.ok(banner.includes(`curl -s http://127.0.0.1:2379/v3/kv/put -X POST -d '{"key":"Zm9v","value":"YmFy"}'`));
  assert.match(bannerFor(planLocalCluster(5, "/d"), true), /restarting the 5-node cluster/);
});
