import * as z from 'zod/mini';
import type { TokenType } from './routes';

// What the vendor answers, per route: the client checks every answer against these and openapi.json
// describes them. The Lambda functions build their answers and never load this module, so a cold start
// does not construct these schemas.

const Instant = z.iso.datetime();

/** TTL metadata on every token, as ISO-8601 instants on the wire. */
const TtlFields = {
  /** When the vendor obtained the token (for Postgres tokens: when the SQL API request was sent). */
  issuedAt: Instant,
  expiresAt: Instant,
  /** Whole seconds left at the moment of the answer. */
  expiresIn: z.int().check(z.gte(0)),
  /** When a client should ask again (80 % of the lifetime by default). */
  refreshAt: Instant,
};

export const PostgresTokenResponseSchema = z.object({
  tokenType: z.literal('snowflake-postgres'),
  token: z.string(),
  instance: z.string(),
  username: z.string(),
  ...TtlFields,
  connection: z.object({
    host: z.string(),
    port: z.int(),
    sslmode: z.enum(['require', 'verify-ca', 'verify-full']),
  }),
});

export const SnowflakeJwtResponseSchema = z.object({
  tokenType: z.literal('KEYPAIR_JWT'),
  token: z.string(),
  account: z.string(),
  user: z.string(),
  publicKeyFingerprint: z.string().check(z.regex(/^SHA256:[A-Za-z0-9+/]{43}=$/)),
  ...TtlFields,
});

export const OAuthTokenResponseSchema = z.object({
  tokenType: z.literal('oauth-access-token'),
  token: z.string(),
  integration: z.string(),
  scopes: z.array(z.string()),
  ...TtlFields,
});

export const PatResponseSchema = z.object({
  tokenType: z.literal('programmatic-access-token'),
  /** The PAT's secret: a password for drivers and BI tools, or `Authorization: Bearer` with token type `PROGRAMMATIC_ACCESS_TOKEN`. */
  token: z.string(),
  target: z.string(),
  /** The Snowflake account (as the connection names it) and user the token signs in as, restricted to `role`. */
  account: z.string(),
  user: z.string(),
  role: z.string(),
  /** The token's name in Snowflake (`SHOW USER PROGRAMMATIC ACCESS TOKENS`); the vendor removes it at `expiresAt`. */
  tokenName: z.string(),
  ...TtlFields,
});

/** Every refusal or failure: `{"error": {"code", "message", "requestId"}}`. */
export const ErrorResponseSchema = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    requestId: z.string(),
  }),
});

/** Each route's answer, by token type. */
export const RESPONSES = {
  postgres: PostgresTokenResponseSchema,
  'snowflake-jwt': SnowflakeJwtResponseSchema,
  oauth: OAuthTokenResponseSchema,
  pat: PatResponseSchema,
} as const satisfies Record<TokenType, unknown>;

/** The TTL fields as `Date`s: what the vendor builds (JSON turns them into the wire's ISO strings) and the client returns. */
export type Dated<T> = Omit<T, 'issuedAt' | 'expiresAt' | 'refreshAt'> & {
  readonly issuedAt: Date;
  readonly expiresAt: Date;
  readonly refreshAt: Date;
};

export type PostgresTokenResponse = Dated<z.output<typeof PostgresTokenResponseSchema>>;
export type SnowflakeJwtResponse = Dated<z.output<typeof SnowflakeJwtResponseSchema>>;
export type OAuthTokenResponse = Dated<z.output<typeof OAuthTokenResponseSchema>>;
export type PatResponse = Dated<z.output<typeof PatResponseSchema>>;
export type TokenResponse = PostgresTokenResponse | SnowflakeJwtResponse | OAuthTokenResponse | PatResponse;
