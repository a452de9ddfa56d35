/**
 * Real processes, real files, real fsync, SIGKILL at random points. A child
 * (support/crash-child.ts) appends and reports each save after it resolves;
 * the parent kills it after a random number of reports, or while it is
 * recovering, and checks that the log on disk is exactly the reported saves
 * plus a prefix of those still in flight: no promised record lost (unless a
 * later save in flight replaced it, as Raft asked), no gap, no garbage. All kills share one directory, so
 * later children recover what earlier kills left, torn tails included.
 *
 * WAL_CRASH_KILLS sets the number of kills (RAFTKV_SOAK=1: 2,000).
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { cp, mkdir, readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { after, test } from "node:test";
import { SeededRng, type Entry } from "@raftkv/raft";
import { Wal } from "../src/index.js";
import { entry, plainEntries, temporaryDir } from "./support/fixtures.js";

const kills = Number(process.env.WAL_CRASH_KILLS ?? (process.env.RAFTKV_SOAK ? 2_000 : 200));
const seed = Number(process.env.WAL_CRASH_SEED ?? Date.now() % 1_000_000);
const SEGMENT_BYTES = 256 * 1024;
const CHILD = fileURLToPath(new URL("./support/crash-child.js", import.meta.url));
const CHILD_DEADLINE_MS = 30_000;

interface Save {
  readonly first: number;
  readonly last: number;
  readonly term: number;
  readonly commit: number;
}

/** A log as the term of each entry after the snapshot. */
type Terms = Map<number, number>;

function applySave(terms: Terms, save: Save, last = save.last): Terms {
  const result = new Map([...terms].filter(([index]) => index < save.first));
  for (let index = save.first; index <= last; index++) result.set(index, save.term);
  return result;
}

/** What the children have promised is durable, and what they had in flight. */
class Promises {
  terms: Terms = new Map();
  snapshotIndex = 0;
  commit = 0;
  saves = 0;
  /** Announced but not reported saved, in order: any prefix of them may be on disk too. */
  inFlight: Save[] = [];

  hear(line: string): void {
    const [word, ...numbers] = line.split(" ");
    const [first = 0, last = 0, term = 0, commit = 0] = numbers.map(Number);
    if (word === "issue") this.inFlight.push({ first, last, term, commit });
    if (word === "saved") {
      const save = this.inFlight.shift();
      assert.deepEqual(save, { first, last, term, commit }, "saves are reported in the order they were made");
      this.terms = applySave(this.terms, save);
      this.commit = Math.max(this.commit, commit);
      this.saves++;
    }
    if (word === "snapshot") this.snapshotIndex = Math.max(this.snapshotIndex, first);
  }

  /**
   * The logs a crash may leave: the promised one, then each in-flight save
   * applied in turn, the last of them possibly only up to `lastIndex` (a
   * torn save keeps a prefix of its entries).
   */
  *possibleLogs(lastIndex: number): Generator<Terms> {
    let terms = this.terms;
    yield terms;
    for (const save of this.inFlight) {
      if (lastIndex >= save.first && lastIndex < save.last) yield applySave(terms, save, lastIndex);
      terms = applySave(terms, save);
      yield terms;
    }
  }

  /** From now on, the recovered log is the baseline the next child builds on. */
  adopt(snapshotIndex: number, entries: readonly Entry[], commit: number): void {
    this.terms = new Map(entries.map((e) => [e.index, e.term]));
    this.snapshotIndex = snapshotIndex;
    this.commit = commit;
    this.inFlight = [];
  }
}

/** Whether `entries` (after `snapshotIndex`) hold exactly the entries of `terms` above it. */
function sameLog(entries: readonly Entry[], snapshotIndex: number, terms: Terms): boolean {
  const above = [...terms].filter(([index]) => index > snapshotIndex);
  return above.length === entries.length && above.every(([index, term]) => entries[index - snapshotIndex - 1]?.term === term);
}

interface Run {
  /** Reports to wait for before the kill; -1 kills during recovery. */
  readonly killAfter: number;
  readonly seed: number;
}

/** Spawns a child, kills it as planned, and waits for it to be gone. */
async function runChild(dir: string, run: Run, promises: Promises): Promise<void> {
  const child = spawn(process.execPath, [CHILD, dir, String(run.seed), String(SEGMENT_BYTES)], { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  let reports = 0;
  createInterface({ input: child.stdout }).on("line", (line) => {
    promises.hear(line);
    if (line === "recovering" && run.killAfter === -1) child.kill("SIGKILL");
    if (line.startsWith("open") || line.startsWith("saved")) {
      if (reports++ === run.killAfter) child.kill("SIGKILL");
    }
  });
  const [code, signal] = (await once(child, "close", { signal: AbortSignal.timeout(CHILD_DEADLINE_MS) })) as [number | null, string | null];
  assert.equal(signal, "SIGKILL", `the child exited by itself (code ${code}) instead of being killed:\n${stderr}`);
}

/** Recovers a copy of the directory (the next child gets the original, torn tail and all) and checks it. */
async function checkPromisesKept(dir: string, promises: Promises): Promise<{ torn: boolean; segments: number }> {
  const copy = `${dir}-check`;
  await rm(copy, { recursive: true, force: true });
  await cp(dir, copy, { recursive: true });
  const wal = await Wal.open(copy, { segmentBytes: SEGMENT_BYTES });
  const { snapshot, entries, hardState, tornTail } = wal.recovered;
  await wal.close();
  const snapshotIndex = snapshot?.index ?? 0;
  assert.ok(snapshotIndex >= promises.snapshotIndex, `snapshot ${snapshotIndex} is behind the promised ${promises.snapshotIndex}`);
  assert.ok(hardState.commit >= promises.commit, `commit ${hardState.commit} is behind the promised ${promises.commit}`);
  for (const [i, e] of entries.entries()) assert.equal(e.index, snapshotIndex + 1 + i, "entries are contiguous after the snapshot");
  const lastIndex = entries.at(-1)?.index ?? snapshotIndex;
  const explained = [...promises.possibleLogs(lastIndex)].some((terms) => sameLog(entries, snapshotIndex, terms));
  assert.ok(
    explained,
    `the recovered log (${entries.length} entries after ${snapshotIndex}, last ${lastIndex}) is not the promised log plus a prefix of the saves in flight`,
  );
  assert.deepEqual(plainEntries(entries), plainEntries(entries.map((e) => entry(e.index, e.term))), "entry contents are intact");
  promises.adopt(snapshotIndex, entries, hardState.commit);
  const segments = (await readdir(copy)).length;
  await rm(copy, { recursive: true, force: true });
  return { torn: tornTail !== undefined, segments };
}

test(`no promised record is lost over ${kills} SIGKILLs (seed ${seed})`, async () => {
  const dir = join(await temporaryDir(after), "wal");
  await mkdir(dir);
  const rng = new SeededRng(seed);
  const promises = new Promises();
  const seen = { tornTails: 0, maxSegments: 0 };
  for (let kill = 1; kill <= kills; kill++) {
    const run = { killAfter: rng.nextInt(10) === 0 ? -1 : rng.nextInt(25), seed: rng.nextUint32() };
    await runChild(dir, run, promises);
    const { torn, segments } = await checkPromisesKept(dir, promises).catch((error: unknown) => {
      throw new Error(`after kill ${kill} (${JSON.stringify(run)}), WAL_CRASH_SEED=${seed} replays the plan, not the timing: ${String(error)}`, {
        cause: error,
      });
    });
    if (torn) seen.tornTails++;
    seen.maxSegments = Math.max(seen.maxSegments, segments);
  }
  console.log(
    `${kills} kills: ${promises.saves} acknowledged saves all recovered; ` + `${seen.tornTails} torn tails cut off; up to ${seen.maxSegments} segments on disk`,
  );
});
