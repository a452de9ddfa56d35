/**
 * The database under the store: any abstract-level database holds its data.
 * Two things only a LevelDB directory can do, measuring its files and
 * rewriting them without what is dead, stay here, so the store asks for them
 * without knowing which database it has.
 */
import { ClassicLevel } from "classic-level";
import { directorySize } from "./persistence.js";
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
  return { db, size: () => directorySize(location), compact: () => db.compactRange(EVERY_KEY.gte, EVERY_KEY.lt) };
}

/** A database with no files (an in-memory one, say): it takes no disk space and has nothing to rewrite. */
export function withoutFiles(db: Db): StoreDatabase {
  return { db, size: async () => 0, compact: async () => undefined };
}
