/**
 * The process the upgrade crash test kills. It opens the store in the
 * directory given, which upgrades a store of the old layout, and SIGKILLs
 * itself right after the LevelDB write numbered `killAfterWrites` resolves
 * (0: never), so that a seed picks the point between writes where the
 * upgrade dies. The parent may also kill it at a random moment. Reports:
 *
 *   opening            about to open the store
 *   open <revision>    opened (the upgrade, if any, finished)
 *
 * Usage: node upgrade-child.js <dir> <killAfterWrites>
 */
import { writeSync } from "node:fs";
import { levelDbAt, MvccStore } from "../../src/index.js";

const [dir, killAfterText] = process.argv.slice(2);
const killAfterWrites = Number(killAfterText);
const database = levelDbAt(dir as string);
dieAfterWrites(database.db, killAfterWrites);

writeSync(1, "opening\n");
const store = await MvccStore.open(database);
writeSync(1, `open ${store.revision}\n`);
await store.close();

/** Wraps the database's chained batches so that the process dies as the chosen write completes. */
function dieAfterWrites(db: typeof database.db, count: number): void {
  if (count === 0) return;
  let written = 0;
  const chained = db.batch.bind(db) as () => ReturnType<typeof db.batch>;
  const withDeath = () => {
    const batch = chained();
    const write = batch.write.bind(batch) as (options?: object) => Promise<void>;
    batch.write = (async (options?: object) => {
      await write(options);
      if (++written === count) process.kill(process.pid, "SIGKILL");
    }) as typeof batch.write;
    return batch;
  };
  db.batch = withDeath as typeof db.batch;
}
