/**
 * Small state files that must survive a crash whole: the member registry and
 * the alarms. Written to a temporary file, fsynced, then renamed over the old
 * one, so a crash leaves the old file or the new one, never half of one.
 */
import { open, readFile, rename } from "node:fs/promises";

export async function writeJsonDurably(file: string, value: unknown): Promise<void> {
  const temporary = `${file}.tmp`;
  const handle = await open(temporary, "w");
  try {
    await handle.writeFile(JSON.stringify(value, null, 2));
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temporary, file);
}

/** The parsed file, or undefined if it does not exist yet. */
export async function readJsonIfExists<T>(file: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(file, "utf8")) as T;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}
