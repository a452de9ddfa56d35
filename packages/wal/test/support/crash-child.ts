/**
 * The process the crash test kills. It opens the WAL in the directory given,
 * then appends forever: batches of 1 to 256 entries, up to four saves in
 * flight at once, now and then a conflicting suffix in a new term, a
 * snapshot marker and a release. It announces each save before making it,
 * and reports it only after it has resolved, so a report is a promise of
 * durability:
 *
 *   recovering                      about to open the WAL
 *   open <lastIndex>                recovered
 *   issue <first> <last> <term> <commit>
 *   saved <first> <last> <term> <commit>
 *   snapshot <index>                marker saved (a release follows)
 *
 * Usage: node crash-child.js <dir> <seed> <segmentBytes>
 */
import { writeSync } from "node:fs";
import { SeededRng, type Entry } from "@raftkv/raft";
import { Wal } from "../../src/index.js";
import { entries, snapshotAt } from "./fixtures.js";

const [dir, seedText, segmentBytesText] = process.argv.slice(2);
const rng = new SeededRng(Number(seedText));

function report(line: string): void {
  // Synchronous, so the line is in the pipe before the next await.
  writeSync(1, `${line}\n`);
}

report("recovering");
const wal = await Wal.open(dir as string, { segmentBytes: Number(segmentBytesText) });
const { hardState, snapshot, entries: recovered } = wal.recovered;
const terms = new Map(recovered.map((e) => [e.index, e.term]));
let snapshotIndex = snapshot?.index ?? 0;
let last = recovered.at(-1)?.index ?? snapshotIndex;
let term = Math.max(hardState.term, recovered.at(-1)?.term ?? 0, snapshot?.term ?? 0, 1);
let commit = hardState.commit;
report(`open ${last}`);

function batchSize(): number {
  const limits = [1, 16, 256] as const;
  return 1 + rng.nextInt(limits[rng.nextInt(limits.length)] as number);
}

/** The next batch: usually after the last entry, sometimes replacing an uncommitted suffix. */
function nextBatch(): Entry[] {
  let first = last + 1;
  if (rng.nextInt(20) === 0) {
    term++;
    first = Math.max(commit + 1, snapshotIndex + 1, last + 1 - rng.nextInt(12));
  }
  const batch = entries(first, first + batchSize() - 1, term);
  for (const index of [...terms.keys()]) if (index >= first) terms.delete(index);
  for (const e of batch) terms.set(e.index, e.term);
  last = first + batch.length - 1;
  return batch;
}

async function snapshotAndRelease(): Promise<void> {
  const index = commit;
  await wal.saveSnapshot(snapshotAt(index, terms.get(index) as number));
  report(`snapshot ${index}`);
  snapshotIndex = index;
  for (const covered of [...terms.keys()]) if (covered <= index) terms.delete(covered);
  await wal.releaseTo(index);
}

for (;;) {
  const saves = Array.from({ length: 1 + rng.nextInt(4) }, () => {
    const batch = nextBatch();
    const state = { term, vote: 1, commit };
    const numbers = `${(batch[0] as Entry).index} ${last} ${term} ${commit}`;
    report(`issue ${numbers}`);
    return wal.save({ entries: batch, hardState: state }).then(() => report(`saved ${numbers}`));
  });
  await Promise.all(saves);
  // Commit trails the log a little, so that conflicts stay above it.
  commit = Math.max(commit, last - 20);
  if (rng.nextInt(25) === 0 && commit > snapshotIndex) await snapshotAndRelease();
}
