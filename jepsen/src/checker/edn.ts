/**
 * A reader for the part of EDN that Jepsen histories use: maps, vectors,
 * lists, sets, keywords, symbols, strings, characters, integers, floats,
 * nil and booleans, with `;` comments, `#_` discards and tagged literals
 * (whose tag is dropped: `#inst "…"` reads as the string).
 */

/** Keywords are interned, so `keyword("f") === keyword("f")` and maps can be looked up by them. */
export class Keyword {
  private static readonly interned = new Map<string, Keyword>();

  private constructor(readonly name: string) {}

  static of(name: string): Keyword {
    let interned = Keyword.interned.get(name);
    if (interned === undefined) {
      interned = new Keyword(name);
      Keyword.interned.set(name, interned);
    }
    return interned;
  }

  toString(): string {
    return `:${this.name}`;
  }
}

export class EdnSymbol {
  constructor(readonly name: string) {}
}

export class EdnSet {
  constructor(readonly items: readonly EdnValue[]) {}
}

export type EdnValue = null | boolean | number | bigint | string | Keyword | EdnSymbol | EdnSet | readonly EdnValue[] | ReadonlyMap<EdnValue, EdnValue>;

export class EdnSyntaxError extends Error {
  constructor(
    readonly reason: string,
    readonly line: number,
    readonly column: number,
  ) {
    super(`line ${line}, column ${column}: ${reason}`);
    this.name = "EdnSyntaxError";
  }
}

/** Where each collection read began, so that callers can name the line of a bad op. */
const startLines = new WeakMap<object, number>();

/** The line a map, vector, list or set read by this module starts on. */
export function startLineOf(collection: object): number | undefined {
  return startLines.get(collection);
}

/** A top-level form and the line it starts on. */
export interface EdnForm {
  readonly value: EdnValue;
  readonly line: number;
}

/** Reads every top-level form of `text`. */
export function readEdnForms(text: string): EdnForm[] {
  const reader = new EdnReader(text);
  const forms: EdnForm[] = [];
  for (;;) {
    reader.skipIgnorable();
    if (reader.atEnd()) return forms;
    const line = reader.currentLine;
    forms.push({ value: reader.readForm(), line });
  }
}

const CLOSERS: Readonly<Record<string, string>> = { "(": ")", "[": "]" };
const NAMED_CHARACTERS: Readonly<Record<string, string>> = {
  newline: "\n",
  return: "\r",
  space: " ",
  tab: "\t",
  formfeed: "\f",
  backspace: "\b",
};
const STRING_ESCAPES: Readonly<Record<string, string>> = {
  n: "\n",
  t: "\t",
  r: "\r",
  b: "\b",
  f: "\f",
  '"': '"',
  "\\": "\\",
};
const DELIMITERS = new Set([...'()[]{}";,']);
const INTEGER = /^[+-]?\d+N?$/;
const FLOAT = /^[+-]?\d+(\.\d*)?([eE][+-]?\d+)?M?$/;

class EdnReader {
  private position = 0;
  private line = 1;
  private lineStart = 0;

  constructor(private readonly text: string) {}

  get currentLine(): number {
    return this.line;
  }

  atEnd(): boolean {
    return this.position >= this.text.length;
  }

  /** Skips whitespace, commas, comments and `#_` discarded forms. */
  skipIgnorable(): void {
    while (!this.atEnd()) {
      const char = this.peek();
      if (char === ";") this.skipComment();
      else if (char === "#" && this.text[this.position + 1] === "_") {
        this.advance(2);
        this.readForm();
      } else if (isWhitespace(char)) this.advance(1);
      else return;
    }
  }

  readForm(): EdnValue {
    this.skipIgnorable();
    if (this.atEnd()) this.fail("unexpected end of input");
    const char = this.peek();
    switch (char) {
      case "(":
      case "[":
        return this.readSequence(char);
      case "{":
        return this.readMap();
      case '"':
        return this.readString();
      case ":":
        return this.readKeyword();
      case "\\":
        return this.readCharacter();
      case "#":
        return this.readDispatch();
      case ")":
      case "]":
      case "}":
        return this.fail(`unexpected '${char}'`);
      default:
        return this.readAtom();
    }
  }

  private readSequence(opener: string): EdnValue[] {
    const line = this.line;
    return remember(this.readUntil(CLOSERS[opener] ?? "]"), line);
  }

  private readMap(): ReadonlyMap<EdnValue, EdnValue> {
    const line = this.line;
    const items = this.readUntil("}");
    if (items.length % 2 !== 0) this.fail(`the map opened on line ${line} has a key without a value`);
    const map = new Map<EdnValue, EdnValue>();
    for (let i = 0; i < items.length; i += 2) map.set(items[i] ?? null, items[i + 1] ?? null);
    return remember(map, line);
  }

  /** Reads forms after an opening bracket up to `closer`, consuming both. */
  private readUntil(closer: string): EdnValue[] {
    const startLine = this.line;
    this.advance(1);
    const items: EdnValue[] = [];
    for (;;) {
      this.skipIgnorable();
      if (this.atEnd()) this.fail(`'${closer}' missing for the collection opened on line ${startLine}`);
      if (this.peek() === closer) {
        this.advance(1);
        return items;
      }
      items.push(this.readForm());
    }
  }

  private readString(): string {
    this.advance(1);
    let result = "";
    for (;;) {
      if (this.atEnd()) this.fail("unterminated string");
      const char = this.peek();
      this.advance(1);
      if (char === '"') return result;
      result += char === "\\" ? this.readEscape() : char;
    }
  }

  private readEscape(): string {
    const code = this.peek();
    this.advance(1);
    if (code === "u") {
      const hex = this.text.slice(this.position, this.position + 4);
      if (!/^[0-9a-fA-F]{4}$/.test(hex)) this.fail(`bad unicode escape '\\u${hex}'`);
      this.advance(4);
      return String.fromCharCode(parseInt(hex, 16));
    }
    const escaped = STRING_ESCAPES[code];
    if (escaped === undefined) this.fail(`unknown escape '\\${code}' in string`);
    return escaped;
  }

  private readKeyword(): Keyword {
    this.advance(1);
    const name = this.readToken();
    if (name === "") this.fail("keyword without a name");
    return Keyword.of(name);
  }

  private readCharacter(): string {
    this.advance(1);
    // A delimiter right after the backslash is itself the character: `\(`.
    let token = this.readToken();
    if (token === "") {
      if (this.atEnd()) this.fail("character literal without a character");
      token = this.peek();
      this.advance(1);
    }
    if (token.length === 1) return token;
    if (/^u[0-9a-fA-F]{4}$/.test(token)) return String.fromCharCode(parseInt(token.slice(1), 16));
    const named = NAMED_CHARACTERS[token];
    if (named === undefined) this.fail(`unknown character '\\${token}'`);
    return named;
  }

  private readDispatch(): EdnValue {
    this.advance(1);
    if (this.peek() === "{") {
      const line = this.line;
      return remember(new EdnSet(this.readUntil("}")), line);
    }
    const tag = this.readToken();
    if (tag === "") this.fail("'#' must start a set, a discard or a tag");
    return this.readForm();
  }

  private readAtom(): EdnValue {
    const token = this.readToken();
    if (token === "") this.fail(`unexpected '${this.peek()}'`);
    if (token === "nil") return null;
    if (token === "true") return true;
    if (token === "false") return false;
    if (INTEGER.test(token)) return parseInteger(token.replace(/N$/, ""));
    if (FLOAT.test(token)) return Number(token.replace(/M$/, ""));
    if (/^[+-]?\d/.test(token)) this.fail(`malformed number '${token}'`);
    return new EdnSymbol(token);
  }

  /** Reads up to the next whitespace or delimiter. */
  private readToken(): string {
    const start = this.position;
    while (!this.atEnd() && !isWhitespace(this.peek()) && !DELIMITERS.has(this.peek())) this.position++;
    return this.text.slice(start, this.position);
  }

  /** Stops before the newline, which `advance` then counts. */
  private skipComment(): void {
    while (!this.atEnd() && this.peek() !== "\n") this.position++;
  }

  private peek(): string {
    return this.text.charAt(this.position);
  }

  private advance(count: number): void {
    for (let i = 0; i < count; i++) {
      if (this.peek() === "\n") {
        this.line++;
        this.lineStart = this.position + 1;
      }
      this.position++;
    }
  }

  private fail(reason: string): never {
    throw new EdnSyntaxError(reason, this.line, this.position - this.lineStart + 1);
  }
}

function remember<Collection extends object>(collection: Collection, line: number): Collection {
  startLines.set(collection, line);
  return collection;
}

function isWhitespace(char: string): boolean {
  return char === " " || char === "\n" || char === "\t" || char === "\r" || char === ",";
}

function parseInteger(digits: string): number | bigint {
  const value = Number(digits);
  return Number.isSafeInteger(value) ? value : BigInt(digits);
}
