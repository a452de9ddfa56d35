/**
 * RESULTS.md is shared by several benchmarks: each one owns a section between
 * two comment lines and rewrites only that section, so a run of one leaves
 * the others' results in place.
 */
import { readFile, writeFile } from "node:fs/promises";

const begin = (name: string): string => `<!-- begin ${name} -->`;
const end = (name: string): string => `<!-- end ${name} -->`;

/** Replaces the section `name` of the markdown file at `path`, or appends it (creating the file if needed). */
export async function writeSection(path: string, name: string, markdown: string): Promise<void> {
  const current = await readFile(path, "utf8").catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") return "";
    throw error;
  });
  const section = `${begin(name)}\n${markdown.trimEnd()}\n${end(name)}\n`;
  const from = current.indexOf(begin(name));
  const to = current.indexOf(end(name));
  if (from >= 0 && to > from) {
    await writeFile(path, current.slice(0, from) + section + current.slice(to + end(name).length + 1));
  } else {
    await writeFile(path, current === "" ? section : `${current.trimEnd()}\n\n${section}`);
  }
}
