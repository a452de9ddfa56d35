// `npm run sim-demo`: a 3-node cluster inside the
// deterministic simulator: it elects a leader, commits writes, loses the
// leader to a crash, fails over, and brings the old leader back.
import { Cluster } from "../packages/raft/dist/test/support/cluster.js";

const seed = Number(process.env.SEED ?? Date.now() % 1_000_000);
const cluster = new Cluster({ voters: 3, seed });
const say = (text) => console.log(`[step ${String(cluster.step).padStart(4)}] ${text}`);
const applied = (id) => cluster.sim(id).machine.applied;

say(`3-node simulated cluster, seed ${seed} (SEED=${seed} npm run sim-demo replays this run)`);
cluster.runUntil(() => cluster.leader() !== undefined, 2_000, "a leader");
let leader = cluster.leader();
say(`node ${leader} leads term ${cluster.node(leader).status().hardState.term}`);

for (let i = 0; i < 100; i++) cluster.propose(leader);
cluster.runUntil(() => cluster.ids.every((id) => applied(id) >= 100), 2_000, "writes applied");
say(`100 writes applied on every node (applied index ${applied(leader)})`);

cluster.crash(leader);
say(`node ${leader} crashed`);
const crashed = leader;
const crashStep = cluster.step;
cluster.runUntil(() => cluster.leader() !== undefined && cluster.leader() !== crashed, 2_000, "failover");
leader = cluster.leader();
say(`node ${leader} took over after ${cluster.step - crashStep} steps (5 steps = 1 tick)`);

for (let i = 0; i < 100; i++) cluster.propose(leader);
cluster.start(crashed);
say(`node ${crashed} restarted from its disk`);
const target = cluster.node(leader).status().lastIndex;
cluster.runUntil(() => cluster.ids.every((id) => applied(id) >= target), 2_000, "catch up");
say(`all nodes applied index ${target}; every step was checked against Raft's safety properties`);
