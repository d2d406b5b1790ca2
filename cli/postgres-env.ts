import type { PostgresToken } from '../client/types';

/** The variables libpq (psql, pg_dump, dbt, psycopg, …) reads, set from a vended Postgres token. */
export interface PostgresEnvironment {
  readonly PGHOST: string;
  readonly PGPORT: string;
  readonly PGUSER: string;
  readonly PGPASSWORD: string;
  readonly PGSSLMODE: string;
  readonly PGDATABASE: string;
}

/**
 * libpq's environment for `token`: where the instance is, who logs in, the token as the password, the
 * TLS mode the instance requires. The database is the caller's `PGDATABASE`, else `postgres` (Snowflake
 * Postgres's default; libpq would otherwise pick the user's name).
 *
 * @example
 * ```ts
 * spawn('psql', [], { env: { ...process.env, ...postgresEnvironment(token, process.env) } });
 * ```
 */
export function postgresEnvironment(
  token: PostgresToken,
  env: Readonly<Record<string, string | undefined>>,
): PostgresEnvironment {
  return {
    PGHOST: token.connection.host,
    PGPORT: String(token.connection.port),
    PGUSER: token.username,
    PGPASSWORD: token.token,
    PGSSLMODE: token.connection.sslmode,
    PGDATABASE: env.PGDATABASE || 'postgres',
  };
}
