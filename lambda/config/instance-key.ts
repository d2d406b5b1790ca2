/** Snowflake Postgres access tokens live 15 minutes. */
export const POSTGRES_TOKEN_LIFETIME_SECONDS = 900;

/**
 * The key Snowflake resolves an instance name to: unquoted names are case-insensitive (upper-cased),
 * a double-quoted name is exact (`""` stands for one quote). Only ASCII letters are folded: names are
 * validated as ASCII identifiers first (`config/names.ts`), and a Unicode fold would let look-alikes
 * such as `ſ` (U+017F) or `ı` (U+0131) turn into `S` and `I`.
 *
 * @example
 * ```ts
 * instanceKey('reporting_server') === instanceKey('REPORTING_SERVER'); // true
 * instanceKey('"Reporting_server"');                                   // 'Reporting_server'
 * ```
 */
export function instanceKey(name: string): string {
  return name.length >= 2 && name.startsWith('"') && name.endsWith('"')
    ? name.slice(1, -1).replaceAll('""', '"')
    : name.replace(/[a-z]+/g, (run) => run.toUpperCase()); // runs of ASCII letters only
}
