/**
 * Reading Snowflake single-quoted string literals as Snowflake does: `\` starts an escape sequence and
 * `''` is a quote. Written independently of the vendor's quoting so the two check each other.
 */

const ESCAPES: Record<string, string> = {
  n: '\n',
  t: '\t',
  r: '\r',
  b: '\b',
  f: '\f',
  '0': '\0',
  "'": "'",
  '"': '"',
  '\\': '\\',
};

/**
 * Read one Snowflake string literal starting at `text[start]` (which must be `'`). Returns the value and
 * the index after the closing quote, or undefined when the literal is not terminated.
 */
export function readLiteral(text: string, start: number): { value: string; end: number } | undefined {
  if (text[start] !== "'") return undefined;
  let value = '';
  let i = start + 1;
  while (i < text.length) {
    const ch = text[i]!;
    if (ch === '\\') {
      const next = text[i + 1];
      if (next === undefined) return undefined;
      value += ESCAPES[next] ?? next;
      i += 2;
    } else if (ch === "'") {
      if (text[i + 1] === "'") {
        value += "'";
        i += 2;
      } else {
        return { value, end: i + 1 };
      }
    } else {
      value += ch;
      i += 1;
    }
  }
  return undefined;
}
