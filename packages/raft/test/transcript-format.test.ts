/** The transcript file format on its own: reading, rewriting in place, and the diff a mismatch prints. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { TranscriptError, TranscriptFile, lineDiff } from "./support/transcript-file.js";

const TEXT = "# a comment\ncampaign 1\n----\n1: pre-candidate term=1\nmore\n\n# another\n\nstabilize\n----\nok\n";

test("a transcript reads as blocks, and rewriting keeps everything but the outputs", () => {
  const file = new TranscriptFile(TEXT);
  assert.deepEqual(
    file.blocks.map((block) => [block.command, block.line, block.expected]),
    [
      ["campaign 1", 2, "1: pre-candidate term=1\nmore"],
      ["stabilize", 9, "ok"],
    ],
  );
  assert.equal(file.render(["1: pre-candidate term=1\nmore", "ok"]), TEXT);
  assert.equal(file.render(["changed", "ok"]), TEXT.replace("1: pre-candidate term=1\nmore", "changed"));
});

test("a command without its ---- line is a mistake in the file", () => {
  assert.throws(() => new TranscriptFile("campaign 1\nstabilize\n"), TranscriptError);
});

test("the diff marks lines only expected with - and lines only actual with +", () => {
  assert.equal(lineDiff("a\nb\nc", "a\nx\nc\nd"), "  a\n- b\n+ x\n  c\n+ d");
});
