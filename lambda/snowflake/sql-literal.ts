/**
 * Quote `value` as a Snowflake single-quoted string literal. Inside single quotes Snowflake treats `\`
 * as an escape character and `''` as a quote, so both are escaped: `\` → `\\`, `'` → `''`. Callers
 * reject control characters before quoting (see `postgres-token.ts`).
 *
 * @example
 * ```ts
 * quoteLiteral("o'brien\\x"); // the SQL text 'o''brien\\x'
 * ```
 */
export function quoteLiteral(value: string): string {
  return `'${value.replaceAll('\\', '\\\\').replaceAll("'", "''")}'`;
}

/**
 * Quote a secret (an OAuth client secret) as a Snowflake string literal that reaches Snowflake exactly,
 * whatever it holds: `\` and `'` as in {@link quoteLiteral}, and line breaks, tabs and NUL as escape
 * sequences, so the statement stays on one line and nothing in it is reinterpreted.
 *
 * @example
 * ```ts
 * quoteSecretLiteral("a'b\\c\nd"); // the SQL text 'a''b\\c\nd'
 * ```
 */
export function quoteSecretLiteral(value: string): string {
  const escaped = value
    .replaceAll('\\', '\\\\')
    .replaceAll("'", "''")
    .replaceAll('\n', '\\n')
    .replaceAll('\r', '\\r')
    .replaceAll('\t', '\\t')
    .replaceAll('\0', '\\0');
  return `'${escaped}'`;
}
