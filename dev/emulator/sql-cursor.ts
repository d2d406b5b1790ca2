import { readLiteral } from './sql-literal';
import { resolveIdentifier } from './state';

// The small SQL reader the emulator's statement families share (integrations, PATs, administration).

export type Value =
  | { kind: 'string'; value: string }
  | { kind: 'number'; value: number }
  | { kind: 'word'; value: string }
  | { kind: 'list'; value: string[] };

/** A statement's failure, in Snowflake's codes. */
export class SqlFailure extends Error {
  constructor(
    readonly code: string,
    readonly sqlState: string,
    message: string,
  ) {
    super(message);
  }
}

/** Snowflake's answer to text it cannot parse. */
export const syntax = (near: string) =>
  new SqlFailure(
    '001003',
    '42000',
    `SQL compilation error:\nsyntax error line 1 at position 0 unexpected '${near.slice(0, 20)}'.`,
  );

export const invalidValue = (property: string, value: string) =>
  // Snowflake's exact code for a bad property value is not documented; 002211 is the emulator's choice.
  new SqlFailure(
    '002211',
    '22023',
    `SQL compilation error:\ninvalid value [${value}] for parameter '${property}'`,
  );

const IDENT = /^("(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)/;

/** A tiny tokenizer over the statement text: identifiers, literals, numbers, punctuation. */
export class Cursor {
  i = 0;
  constructor(readonly text: string) {}
  skip(): void {
    while (this.i < this.text.length && /[\s,]/.test(this.text[this.i]!)) this.i += 1;
  }
  /** The next word (case-insensitive keyword or identifier), or undefined. */
  word(): string | undefined {
    this.skip();
    const match = IDENT.exec(this.text.slice(this.i));
    if (!match) return undefined;
    this.i += match[0].length;
    return match[0];
  }
  keyword(expected: string): boolean {
    const save = this.i;
    const w = this.word();
    if (w && !w.startsWith('"') && w.toUpperCase() === expected) return true;
    this.i = save;
    return false;
  }
  expect(expected: string): void {
    if (!this.keyword(expected)) throw syntax(this.rest());
  }
  /** An optional clause: false when `first` is not next; once it is, `rest` must follow (`IF NOT EXISTS`). */
  clause(first: string, ...rest: string[]): boolean {
    if (!this.keyword(first)) return false;
    for (const word of rest) this.expect(word);
    return true;
  }
  symbol(ch: string): boolean {
    this.skip();
    if (this.text[this.i] === ch) {
      this.i += 1;
      return true;
    }
    return false;
  }
  value(): Value {
    this.skip();
    const ch = this.text[this.i];
    if (ch === "'") {
      const literal = readLiteral(this.text, this.i);
      if (!literal) throw syntax(this.rest());
      this.i = literal.end;
      return { kind: 'string', value: literal.value };
    }
    if (ch === '(') {
      this.i += 1;
      const items: string[] = [];
      for (;;) {
        this.skip();
        if (this.text[this.i] === ')') {
          this.i += 1;
          return { kind: 'list', value: items };
        }
        const literal = readLiteral(this.text, this.i);
        if (!literal) throw syntax(this.rest());
        items.push(literal.value);
        this.i = literal.end;
      }
    }
    const number = /^-?\d+/.exec(this.text.slice(this.i));
    if (number) {
      this.i += number[0].length;
      return { kind: 'number', value: Number(number[0]) };
    }
    const w = this.word();
    if (!w) throw syntax(this.rest());
    return { kind: 'word', value: w.toUpperCase() };
  }
  done(): boolean {
    this.skip();
    return this.i >= this.text.length;
  }
  rest(): string {
    return this.text.slice(this.i).trim() || '<EOF>';
  }
}

/** `KEY = value …` until the end (or a keyword that starts another clause, for CREATE). */
export function properties(cursor: Cursor): Map<string, Value> {
  const found = new Map<string, Value>();
  while (!cursor.done()) {
    const key = cursor.word();
    if (!key || key.startsWith('"')) throw syntax(cursor.rest());
    if (!cursor.symbol('=')) throw syntax(cursor.rest());
    const upper = key.toUpperCase();
    if (found.has(upper)) throw syntax(key);
    found.set(upper, cursor.value());
  }
  return found;
}

/** The next identifier, resolved as Snowflake resolves it (upper case unless double-quoted). */
export function identifier(c: Cursor): string {
  const w = c.word();
  if (!w) throw syntax(c.rest());
  return resolveIdentifier(w.replaceAll('""', '"'));
}

/** `a.b.c`: up to `parts` identifiers joined by dots, each resolved. */
export function qualifiedName(c: Cursor, parts = 3): string[] {
  const names = [identifier(c)];
  while (names.length < parts && c.text[c.i] === '.') {
    c.i += 1;
    names.push(identifier(c));
  }
  return names;
}

/** A statement's answer: rows (with their column names) or one status line. */
export type StatementResult =
  | { kind: 'rows'; label: string; columns: string[]; rows: (string | null)[][] }
  | { kind: 'status'; label: string; message: string };
