/** Snowflake Postgres access tokens live 15 minutes. */
export const POSTGRES_TOKEN_LIFETIME_SECONDS = 900;

/**
 * The key Snowflake resolves an instance name to: unquoted names are case-insensitive (uppercased),
 * a double-quoted name is exact.
 *
 * @example
 * ```ts
 * instanceKey('reporting_server') === instanceKey('REPORTING_SERVER'); // true
 * instanceKey('"Reporting_server"');                                   // 'Reporting_server'
 * ```
 */
export function instanceKey(name: string): string {
  return name.length >= 2 && name.startsWith('"') && name.endsWith('"')
    ? name.slice(1, -1)
    : name.toUpperCase();
}
