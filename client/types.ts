import type * as z from 'zod/mini';
import type {
  OAuthTokenResponse,
  PatResponse,
  PostgresTokenResponse,
  SnowflakeJwtResponse,
} from '../lambda/api/responses';
import type {
  OAuthRequestSchema,
  PatRequestSchema,
  PostgresRequestSchema,
  SnowflakeJwtRequestSchema,
} from '../lambda/api/schemas';

// The client's types come from the API contract (`lambda/api/`): a field renamed there is a compile
// error here. Answers carry their TTL fields as `Date`s.

export type { ErrorCode } from '../lambda/api/errors';

/** `POST /v1/tokens/postgres` body. */
export type PostgresRequest = z.input<PostgresRequestSchema>;
/** `POST /v1/tokens/snowflake-jwt` body. */
export type SnowflakeJwtRequest = z.input<SnowflakeJwtRequestSchema>;
/** `POST /v1/tokens/oauth` body. */
export type OAuthRequest = Omit<z.input<OAuthRequestSchema>, 'scopes'> & {
  readonly scopes?: readonly string[];
};

/** `POST /v1/tokens/pat` body. */
export type PatRequest = z.input<PatRequestSchema>;

export type PostgresToken = PostgresTokenResponse;
export type SnowflakeJwt = SnowflakeJwtResponse;
export type OAuthAccessToken = OAuthTokenResponse;
/** A leased programmatic access token: the vendor removes it from Snowflake at `expiresAt`. */
export type ProgrammaticAccessToken = PatResponse;
export type VendedToken = PostgresToken | SnowflakeJwt | OAuthAccessToken | ProgrammaticAccessToken;

/** TTL metadata on every token. */
export type TokenLifetime = Pick<VendedToken, 'issuedAt' | 'expiresAt' | 'expiresIn' | 'refreshAt'>;

/** A refusal or failure from the vendor (or API Gateway), with its stable code. */
export class TokenVendorClientError extends Error {
  /**
   * The API's code (an {@link ErrorCode}: `NOT_AUTHORIZED`, `UPSTREAM_UNAVAILABLE`, …); API Gateway
   * refusals: `FORBIDDEN`, `INVALID_SIGNATURE`, …; `NETWORK_ERROR`, `PROTOCOL_ERROR` from the client.
   */
  readonly code: string;
  readonly status: number;
  readonly requestId?: string;
  readonly retryAfterSeconds?: number;

  constructor(
    code: string,
    status: number,
    message: string,
    details: { requestId?: string; retryAfterSeconds?: number } = {},
  ) {
    super(message);
    this.name = 'TokenVendorClientError';
    this.code = code;
    this.status = status;
    if (details.requestId) this.requestId = details.requestId;
    if (details.retryAfterSeconds !== undefined) this.retryAfterSeconds = details.retryAfterSeconds;
  }
}
