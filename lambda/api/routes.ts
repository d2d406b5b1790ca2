import { requestSchemas } from './schemas';

/** Bodies over 64 KiB are refused with 413. */
export const MAX_BODY_BYTES = 64 * 1024;

/**
 * The HTTP API, once: one route per token type, as plain data (after ts-rest's contract; each route's
 * answer is in responses.ts). The HTTP
 * handler routes and validates from it, the direct handler validates from it, the local gateway and CDK
 * build their resources and request models from it, the client calls its paths and takes its types, and
 * `openapi.json` is generated from it.
 */
export const ROUTES = {
  postgres: {
    method: 'POST',
    path: '/v1/tokens/postgres',
    summary: 'Mint a Snowflake Postgres access token (15 minutes) for a granted instance and Postgres user',
    /** The body's schema (built on first use). */
    get request() {
      return requestSchemas.postgres();
    },
    example: { instance: 'reporting_server', username: 'reporting_user' },
  },
  'snowflake-jwt': {
    method: 'POST',
    path: '/v1/tokens/snowflake-jwt',
    summary: "Sign a Snowflake key-pair JWT for a granted connection's service user",
    /** The body's schema (built on first use). */
    get request() {
      return requestSchemas['snowflake-jwt']();
    },
    example: { connection: 'analytics' },
  },
  oauth: {
    method: 'POST',
    path: '/v1/tokens/oauth',
    summary: 'Obtain an OAuth access token from a granted integration, for explicit scopes',
    /** The body's schema (built on first use). */
    get request() {
      return requestSchemas.oauth();
    },
    example: { integration: 'servicenow', scopes: ['useraccount'] },
  },
  pat: {
    method: 'POST',
    path: '/v1/tokens/pat',
    summary:
      'Lease a role-restricted Snowflake programmatic access token for a granted PAT target; the vendor removes it when the lease ends',
    /** The body's schema (built on first use). */
    get request() {
      return requestSchemas.pat();
    },
    example: { target: 'tableau', role: 'REPORTING_READER' },
  },
} as const;

export type TokenType = keyof typeof ROUTES;
export const TOKEN_TYPES = Object.keys(ROUTES) as TokenType[];

const byPath = new Map<string, TokenType>(TOKEN_TYPES.map((type) => [ROUTES[type].path, type]));

/**
 * The token type a request path names (a trailing slash is ignored), or undefined.
 *
 * @example
 * ```ts
 * tokenTypeOf('/v1/tokens/postgres'); // 'postgres'
 * ```
 */
export function tokenTypeOf(path: string): TokenType | undefined {
  return byPath.get(path.replace(/\/+$/, '') || '/');
}

/** Is `value` a token type (`postgres`, `snowflake-jwt`, `oauth`, `pat`)? */
export function isTokenType(value: unknown): value is TokenType {
  return typeof value === 'string' && Object.hasOwn(ROUTES, value);
}
