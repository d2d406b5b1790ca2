import type { TokenVendorClient } from './client';
import type { PostgresRequest } from './types';

/**
 * A `password` for node-postgres: `new pg.Pool({ …, password: postgresPasswordProvider(vendor, {…}) })`.
 * node-postgres calls it for every new connection; the client serves its cached token until
 * `refreshAt`, so each new pooled connection gets a token with time left, and existing connections
 * are unaffected by expiry (it only blocks new logins).
 *
 * @example
 * ```ts
 * const pool = new pg.Pool({ host, port: 5432, user: 'reporting_user', ssl: { rejectUnauthorized: true },
 *   password: postgresPasswordProvider(vendor, { instance: 'reporting_server', username: 'reporting_user' }) });
 * ```
 */
export function postgresPasswordProvider(
  client: TokenVendorClient,
  request: PostgresRequest,
): () => Promise<string> {
  return async () => (await client.postgres(request)).token;
}
