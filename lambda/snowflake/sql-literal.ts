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
