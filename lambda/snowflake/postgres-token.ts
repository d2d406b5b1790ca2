import { TokenVendorError } from '../errors';
import { DEFAULT_REFRESH_RATIO, type TokenLifetime, tokenLifetime } from '../ttl';
import { SnowflakeError, SnowflakeErrorCode } from './errors';
import type { ExecuteOptions, SqlApiClient } from './sql-api';
import { quoteLiteral } from './sql-literal';

/** Snowflake Postgres access tokens are valid for 15 minutes (expiry only blocks new connections). */
export const POSTGRES_TOKEN_LIFETIME_MS = 15 * 60_000;

/** A Snowflake Postgres access token: the password for `username` on `instance`, with TTL metadata. */
export interface PostgresAccessToken extends TokenLifetime {
  readonly tokenType: 'snowflake-postgres';
  readonly token: string;
  readonly instance: string;
  readonly username: string;
  readonly statementHandle: string;
  readonly requestId: string;
}

/** An instance or Postgres user name that cannot be sent (empty, too long, control characters). */
export class PostgresNameError extends TokenVendorError {
  constructor(message: string) {
    super('POSTGRES_NAME_INVALID', message);
  }
}

export interface MintPostgresTokenOptions extends Pick<ExecuteOptions, 'deadline' | 'signal' | 'queryTag'> {
  readonly instance: string;
  /** The Postgres role, case-sensitive and passed exactly as given (Snowflake does not validate it). */
  readonly username: string;
  readonly refreshRatio?: number;
  readonly now?: () => number;
}

/**
 * Mint a Snowflake Postgres access token with
 * `SELECT GENERATE_POSTGRES_ACCESS_TOKEN_FOR_USER('<instance>', '<postgres_user>')`.
 *
 * Names are checked before anything is sent, then inlined as Snowflake string literals with both `'`
 * and `\` escaped, so a name such as `o'brien\x` reaches Snowflake exactly as given. (Whether the
 * function accepts bind variables is unconfirmed; literals work either way.) `issuedAt` is when the
 * request was first sent, never later than Snowflake's own clock start, so `expiresAt` never overstates.
 *
 * @example
 * ```ts
 * const pg = await mintPostgresAccessToken(sql, { instance: 'reporting_server', username: 'reporting_user' });
 * // pg.token is the password; pg.expiresAt is issuedAt + 15 minutes
 * ```
 */
export async function mintPostgresAccessToken(
  sql: SqlApiClient,
  options: MintPostgresTokenOptions,
): Promise<PostgresAccessToken> {
  checkName(options.instance, 'instance', 255);
  checkName(options.username, 'Postgres user', 63);
  const statement = `SELECT GENERATE_POSTGRES_ACCESS_TOKEN_FOR_USER(${quoteLiteral(options.instance)}, ${quoteLiteral(options.username)})`;
  const result = await sql.execute(statement, {
    deadline: options.deadline,
    signal: options.signal,
    queryTag: options.queryTag,
  });
  const token = result.rows[0]?.[0];
  if (result.rows.length !== 1 || typeof token !== 'string' || token === '') {
    throw new SnowflakeError(
      SnowflakeErrorCode.Protocol,
      'GENERATE_POSTGRES_ACCESS_TOKEN_FOR_USER returned no token.',
      {
        statementHandle: result.statementHandle,
        requestId: result.requestId,
      },
    );
  }
  const now = (options.now ?? Date.now)();
  return {
    tokenType: 'snowflake-postgres',
    token,
    instance: options.instance,
    username: options.username,
    statementHandle: result.statementHandle,
    requestId: result.requestId,
    ...tokenLifetime(
      result.sentAt,
      result.sentAt + POSTGRES_TOKEN_LIFETIME_MS,
      now,
      options.refreshRatio ?? DEFAULT_REFRESH_RATIO,
    ),
  };
}

function checkName(value: string, what: string, maxBytes: number): void {
  if (typeof value !== 'string' || value.length === 0)
    throw new PostgresNameError(`The ${what} name is empty.`);
  if (Buffer.byteLength(value, 'utf8') > maxBytes)
    throw new PostgresNameError(`The ${what} name is longer than ${maxBytes} bytes.`);
  if (/\p{Cc}/u.test(value)) throw new PostgresNameError(`The ${what} name contains a control character.`);
}
