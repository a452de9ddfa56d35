/**
 * Runs every transcript in test/transcripts/: each command's output must
 * equal the output recorded under it. RAFTKV_REWRITE_TRANSCRIPTS=1 records
 * the actual output instead, so a new transcript is written by listing its
 * commands and a changed one is reviewed as a diff of the file.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { test } from "node:test";
import { TranscriptFile, lineDiff } from "./support/transcript-file.js";
import { Session } from "./support/transcript.js";

const folder = new URL("../../test/transcripts/", import.meta.url);
const rewrite = process.env.RAFTKV_REWRITE_TRANSCRIPTS === "1";

for (const name of readdirSync(folder)
  .filter((file) => file.endsWith(".txt"))
  .sort()) {
  test(`transcript ${name}`, () => {
    const url = new URL(name, folder);
    const transcript = new TranscriptFile(readFileSync(url, "utf8"));
    const session = new Session();
    const outputs = transcript.blocks.map((block) => {
      const actual = session.run(block.command);
      if (!rewrite && actual !== block.expected) {
        assert.fail(`test/transcripts/${name}:${block.line}: ${block.command} (- expected, + actual)\n${lineDiff(block.expected, actual)}`);
      }
      return actual;
    });
    if (rewrite) writeFileSync(url, transcript.render(outputs));
  });
}
