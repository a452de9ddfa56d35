/**
 * The database under the store: any abstract-level database holds its data.
 * Two things only a LevelDB directory can do, measuring its files and
 * rewriting them without what is dead, stay here, so the store asks for them
 * without knowing which database it has.
 */
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { ClassicLevel } from "classic-level";
import type { Db } from "./state.js";

export interface StoreDatabase {
  readonly db: Db;
  /** The bytes it takes (status's dbSize). */
  size(): Promise<number>;
  /** Rewrites what it holds so that deleted and compacted entries stop taking space (defragment). */
  compact(): Promise<void>;
}

/** Every key the store writes: each key space is behind a one-byte prefix below 0xff (see layout.ts). */
const EVERY_KEY = { gte: Uint8Array.of(), lt: Uint8Array.of(0xff) } as const;

/** The LevelDB in a directory, as a running member keeps its store. */
export function levelDbAt(location: string): StoreDatabase {
  const db = new ClassicLevel<Uint8Array, Uint8Array>(location, { keyEncoding: "view", valueEncoding: "view" });
  const tables = new TableSizes(db);
  return { db, size: () => directorySize(location, tables), compact: () => db.compactRange(EVERY_KEY.gte, EVERY_KEY.lt) };
}

/** A LevelDB table file's name: its number (six digits at least) and `.ldb`. */
const TABLE_FILE = /^\d{6,}\.ldb$/;

/**
 * The sizes of the table files LevelDB has installed, by file name. Such a
 * file never changes (LevelDB writes a table whole, then installs it, and
 * never reuses a number), so a size once known holds for good: LevelDB's
 * list is read again only when the directory shows a table it does not
 * hold, after a flush or a compaction.
 */
class TableSizes {
  private sizes = new Map<string, number>();

  constructor(private readonly db: ClassicLevel<Uint8Array, Uint8Array>) {}

  /** The size of an installed table; undefined for any other file (the log, the manifest, a table being written or not yet deleted). */
  of(name: string): number | undefined {
    if (!TABLE_FILE.test(name)) return undefined;
    if (!this.sizes.has(name)) this.sizes = installedTables(this.db);
    return this.sizes.get(name);
  }
}

/**
 * The bytes of a directory's files: the installed tables' from LevelDB's
 * own account, the rest measured, each a trip to the thread pool. A file
 * deleted between the listing and its measure takes no space.
 */
async function directorySize(location: string, tables: TableSizes): Promise<number> {
  const names = await readdir(location);
  const sizes = await Promise.all(names.map((name) => tables.of(name) ?? fileSize(join(location, name))));
  return sizes.reduce((total, size) => total + size, 0);
}

async function fileSize(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return 0;
    throw error;
  }
}

/**
 * The table files of LevelDB's current version by file name, with their
 * sizes, from its `leveldb.sstables` property: a line per file,
 * " number:size[smallest .. largest]" (the keys escaped, so a line is never
 * split). None when the database is not open.
 */
export function installedTables(db: ClassicLevel<Uint8Array, Uint8Array>): Map<string, number> {
  const tables = new Map<string, number>();
  if (db.status !== "open") return tables;
  for (const [, number, size] of db.getProperty("leveldb.sstables").matchAll(/^ (\d+):(\d+)\[/gm)) {
    tables.set(`${number!.padStart(6, "0")}.ldb`, Number(size));
  }
  return tables;
}

/** A database with no files (an in-memory one, say): it takes no disk space and has nothing to rewrite. */
export function withoutFiles(db: Db): StoreDatabase {
  return { db, size: async () => 0, compact: async () => undefined };
}
