/** The transcript file format: reading a file, rewriting its outputs, diffing a mismatch. */

/** A mistake in the transcript itself (unknown command, bad argument): fails the test, never recorded as output. */
export class TranscriptError extends Error {
  override readonly name = "TranscriptError";
}

/** One command of a transcript file and the output recorded under it. */
export interface Block {
  readonly command: string;
  /** 1-based line of the command in the file. */
  readonly line: number;
  readonly expected: string;
}

/**
 * A transcript file: comments (`#`) and blank lines, then blocks of a
 * command line, a `----` line and the expected output up to a blank line.
 */
export class TranscriptFile {
  readonly blocks: Block[] = [];
  /** The file as pieces: verbatim lines, or the index of a block. */
  private readonly pieces: (string | number)[] = [];

  constructor(text: string) {
    const lines = text.split("\n");
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i] ?? "";
      if (line.trim() === "" || line.startsWith("#")) {
        this.pieces.push(line);
        continue;
      }
      if (lines[i + 1] !== "----") throw new TranscriptError(`line ${i + 1}: expected ---- after the command "${line}"`);
      const output: string[] = [];
      let next = i + 2;
      while (next < lines.length && (lines[next] ?? "").trim() !== "") output.push(lines[next++] ?? "");
      this.pieces.push(this.blocks.length);
      this.blocks.push({ command: line, line: i + 1, expected: output.join("\n") });
      i = next;
    }
  }

  /** The file with each block's output replaced by `outputs`. */
  render(outputs: readonly string[]): string {
    const text = this.pieces.map((piece) => {
      if (typeof piece === "string") return `${piece}\n`;
      const block = this.blocks[piece];
      return `${block?.command}\n----\n${outputs[piece]}\n\n`;
    });
    return `${text.join("").trimEnd()}\n`;
  }
}

/** A line diff of expected against actual: "-" lines only expected, "+" lines only actual. */
export function lineDiff(expected: string, actual: string): string {
  const a = expected.split("\n");
  const b = actual.split("\n");
  // Longest common subsequence, by dynamic programming from the ends.
  const lcs = Array.from({ length: a.length + 1 }, () => new Array<number>(b.length + 1).fill(0));
  for (let i = a.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--) {
      const row = lcs[i] as number[];
      row[j] = a[i] === b[j] ? (lcs[i + 1]?.[j + 1] ?? 0) + 1 : Math.max(lcs[i + 1]?.[j] ?? 0, row[j + 1] ?? 0);
    }
  }
  const out: string[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) {
      out.push(`  ${a[i++]}`);
      j++;
    } else if (i < a.length && (j === b.length || (lcs[i + 1]?.[j] ?? 0) >= (lcs[i]?.[j + 1] ?? 0))) {
      out.push(`- ${a[i++]}`);
    } else {
      out.push(`+ ${b[j++]}`);
    }
  }
  return out.join("\n");
}
