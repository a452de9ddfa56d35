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
  /** Text not yet cut into values; it starts with the value being read, if any. */
  private text = "";
  /**
   * How far that value has been scanned, and the scan's state there, so
   * that each character is scanned once however the value is split.
   */
  private scanned = 0;
  private depth = 0;
  private inString = false;

  /** `maxPending`: how many characters may wait for a value to complete before the stream is refused. */
  constructor(private readonly maxPending: number) {}

  /** Adds text and returns the values it completed; throws at the first value that is not valid JSON. */
  push(chunk: string): unknown[] {
    this.text += chunk;
    const values: unknown[] = [];
    for (;;) {
      if (this.scanned === 0) {
        const start = this.text.search(/\S/);
        this.text = start < 0 ? "" : this.text.slice(start);
        if (start < 0) break;
      }
      const end = this.scanToEnd();
      if (end === undefined) {
        if (this.text.length > this.maxPending) throw invalidArgument("a request over the WebSocket is too large");
        break;
      }
      values.push(parse(this.text.slice(0, end)));
      this.text = this.text.slice(end);
      this.scanned = 0;
      this.depth = 0;
      this.inString = false;
    }
    return values;
  }

  /**
   * Scans on from where the last push left off: where the value ends, or
   * undefined while it is incomplete. Objects and arrays end where their
   * brackets balance outside strings, strings at their closing quote, other
   * values (numbers, literals) at whitespace.
   */
  private scanToEnd(): number | undefined {
    let i = this.scanned;
    for (; i < this.text.length; i++) {
      const char = this.text[i] as string;
      if (this.inString) {
        if (char === "\\") i++;
        else if (char === '"') {
          this.inString = false;
          if (this.depth === 0) return i + 1;
        } else if (char < " ") {
          // A raw control character can never be part of a string: the value is bad, whatever follows.
          return i + 1;
        }
      } else if (char === '"') this.inString = true;
      else if (char === "{" || char === "[") this.depth++;
      else if (char === "}" || char === "]") {
        this.depth--;
        if (this.depth <= 0) return i + 1;
      } else if (this.depth === 0 && WHITESPACE.test(char)) return i;
    }
    // Past the end when the text ended on a backslash: the escaped character is skipped when it comes.
    this.scanned = i;
    return undefined;
  }
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw invalidArgument(`invalid JSON: ${(error as Error).message}`);
  }
}
