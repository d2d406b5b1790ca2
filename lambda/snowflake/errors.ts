import { TokenVendorError } from '../errors';

/** An account identifier that matches none of the forms `accountForJwt` accepts. */
export class AccountIdentifierError extends TokenVendorError {
  constructor(message: string) {
    super('ACCOUNT_IDENTIFIER_INVALID', message);
  }
}

/** A JWT request that would break Snowflake's rules (lifetime over 3600 s, empty user, …). */
export class JwtRequestError extends TokenVendorError {
  constructor(code: 'JWT_LIFETIME_INVALID' | 'JWT_USER_INVALID', message: string) {
    super(code, message);
  }
}

/** Stable codes for SQL API failures. */
export const SnowflakeErrorCode = {
  /** Snowflake refused the sign-in (HTTP 401) even after a fresh credential (and key re-read). */
  AuthFailed: 'SNOWFLAKE_AUTH_FAILED',
  /** Snowflake refused the statement or the request (400, 403, 404, 415, 422). Retrying will not help. */
  Rejected: 'SNOWFLAKE_REJECTED',
  /** The statement reached its timeout and was cancelled (408). */
  StatementTimeout: 'SNOWFLAKE_STATEMENT_TIMEOUT',
  /** 429/5xx/network failures outlasted the retries or the deadline. Retrying later may help. */
  Unavailable: 'SNOWFLAKE_UNAVAILABLE',
  /** An answer the client cannot read (an unexpected shape). */
  Protocol: 'SNOWFLAKE_PROTOCOL_ERROR',
} as const;
export type SnowflakeErrorCode = (typeof SnowflakeErrorCode)[keyof typeof SnowflakeErrorCode];

/** What Snowflake said, carried by a {@link SnowflakeError}. */
export interface SnowflakeErrorDetails {
  readonly httpStatus?: number;
  /** For AuthFailed: how the vendor signed in. */
  readonly authentication?: 'keypair' | 'wif';
  /** Snowflake's own code (`390144`, `002003`, …). */
  readonly snowflakeCode?: string;
  readonly sqlState?: string;
  readonly statementHandle?: string;
  readonly requestId?: string;
  /** For Unavailable after a 429 whose Retry-After outlasted the deadline. */
  readonly retryAfterSeconds?: number;
  readonly attempts?: number;
}

/** A SQL API failure with Snowflake's code, SQL state, statement handle and HTTP status. */
export class SnowflakeError extends TokenVendorError {
  declare readonly code: SnowflakeErrorCode;
  readonly httpStatus?: number;
  readonly authentication?: 'keypair' | 'wif';
  readonly snowflakeCode?: string;
  readonly sqlState?: string;
  readonly statementHandle?: string;
  readonly requestId?: string;
  readonly retryAfterSeconds?: number;
  readonly attempts?: number;

  constructor(
    code: SnowflakeErrorCode,
    message: string,
    details: SnowflakeErrorDetails = {},
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
    Object.assign(this, details);
  }
}
