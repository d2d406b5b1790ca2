/** TTL metadata on every token (ISO-8601 strings on the wire, Dates here). */
export interface TokenLifetime {
  readonly issuedAt: Date;
  readonly expiresAt: Date;
  /** Seconds left when the vendor answered. */
  readonly expiresIn: number;
  readonly refreshAt: Date;
}

export interface PostgresToken extends TokenLifetime {
  readonly tokenType: 'snowflake-postgres';
  readonly token: string;
  readonly instance: string;
  readonly username: string;
  readonly connection: { readonly host: string; readonly port: number; readonly sslmode: string };
}

export interface SnowflakeJwt extends TokenLifetime {
  readonly tokenType: 'KEYPAIR_JWT';
  readonly token: string;
  readonly account: string;
  readonly user: string;
  readonly publicKeyFingerprint: string;
}

export interface OAuthAccessToken extends TokenLifetime {
  readonly tokenType: 'oauth-access-token';
  readonly token: string;
  readonly integration: string;
  readonly scopes: readonly string[];
}

export type VendedToken = PostgresToken | SnowflakeJwt | OAuthAccessToken;

export interface PostgresRequest {
  readonly instance: string;
  readonly username: string;
  readonly connection?: string;
}

export interface SnowflakeJwtRequest {
  readonly connection: string;
}

export interface OAuthRequest {
  readonly integration: string;
  readonly scopes?: readonly string[];
}

/** A refusal or failure from the vendor (or API Gateway), with its stable code. */
export class TokenVendorClientError extends Error {
  /** The API's code (`NOT_AUTHORIZED`, `UPSTREAM_UNAVAILABLE`, …); API Gateway refusals: `FORBIDDEN`, etc. */
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
