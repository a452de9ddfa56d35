/**
 * A stream of concatenated JSON values, cut into whole values as text
 * arrives. etcd's WebSocket proxy writes each WebSocket message, then a
 * newline, into the request body, and the gateway decodes that body as a
 * stream of JSON values: a message may carry several requests, or a request
 * may span messages. This reads the same text the same way.
 */
import { invalidArgument } from "../../errors.js";

const WHITESPACE = /\s/;

export class JsonValues {
  private text = "";

  /** `maxPending`: how many characters may wait for a value to complete before the stream is refused. */
  constructor(private readonly maxPending: number) {}

  /** Adds text and returns the values it completed; throws at the first value that is not valid JSON. */
  push(chunk: string): unknown[] {
    this.text += chunk;
    const values: unknown[] = [];
    for (;;) {
      const start = this.text.search(/\S/);
      if (start < 0) {
        this.text = "";
        break;
      }
      const end = endOfValue(this.text, start);
      if (end === undefined) {
        this.text = this.text.slice(start);
        if (this.text.length > this.maxPending) throw invalidArgument("a request over the WebSocket is too large");
        break;
      }
      values.push(parse(this.text.slice(start, end)));
      this.text = this.text.slice(end);
    }
    return values;
  }
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw invalidArgument(`invalid JSON: ${(error as Error).message}`);
  }
}

/**
 * Where the value starting at `start` ends, or undefined while it is still
 * incomplete. Objects and arrays end where their brackets balance outside
 * strings, strings at their closing quote, other values (numbers, literals)
 * at whitespace.
 */
function endOfValue(text: string, start: number): number | undefined {
  let depth = 0;
  let inString = false;
  for (let i = start; i < text.length; i++) {
    const char = text[i] as string;
    if (inString) {
      if (char === "\\") i++;
      else if (char === '"') {
        inString = false;
        if (depth === 0) return i + 1;
      } else if (char < " ") {
        // A raw control character can never be part of a string: the value is bad, whatever follows.
        return i + 1;
      }
    } else if (char === '"') inString = true;
    else if (char === "{" || char === "[") depth++;
    else if (char === "}" || char === "]") {
      depth--;
      if (depth <= 0) return i + 1;
    } else if (depth === 0 && WHITESPACE.test(char)) return i;
  }
  return undefined;
}
