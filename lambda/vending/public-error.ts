import { TokenVendorError } from '../errors';
import { SnowflakeError } from '../snowflake/errors';

/** The stable API error codes (DESIGN.md), with their HTTP status and the PascalCase name Step Functions sees. */
export const PUBLIC_ERRORS = {
  INVALID_REQUEST: { status: 400, name: 'InvalidRequest' },
  NOT_AUTHORIZED: { status: 403, name: 'NotAuthorized' },
  UNKNOWN_TARGET: { status: 404, name: 'UnknownTarget' },
  PAYLOAD_TOO_LARGE: { status: 413, name: 'PayloadTooLarge' },
  THROTTLED: { status: 429, name: 'Throttled' },
  SNOWFLAKE_REJECTED: { status: 502, name: 'SnowflakeRejected' },
  SNOWFLAKE_AUTH_FAILED: { status: 502, name: 'SnowflakeAuthFailed' },
  OAUTH_REJECTED: { status: 502, name: 'OAuthRejected' },
  UPSTREAM_UNAVAILABLE: { status: 503, name: 'UpstreamUnavailable' },
  CONFIG_ERROR: { status: 500, name: 'ConfigError' },
  INTERNAL: { status: 500, name: 'Internal' },
} as const;
export type PublicErrorCode = keyof typeof PUBLIC_ERRORS;

/** What a caller is told about a failure. */
export interface PublicError {
  readonly code: PublicErrorCode;
  readonly status: number;
  /** PascalCase error name for Step Functions `Retry`/`Catch`. */
  readonly name: string;
  readonly message: string;
  /** For 429/503: seconds to wait before asking again. */
  readonly retryAfterSeconds?: number;
  /** The internal code behind it (`KEY_WRONG_PASSPHRASE`, `SNOWFLAKE_STATEMENT_TIMEOUT`, …) for the audit trail. */
  readonly cause: string;
}

const INPUT = new Set(['INVALID_REQUEST', 'POSTGRES_NAME_INVALID', 'JWT_USER_INVALID']);
const KEY_CONFIG = new Set([
  'KEY_SECRET_NOT_FOUND',
  'KEY_SECRET_UNREADABLE',
  'KEY_FILE_NOT_FOUND',
  'KEY_PASSPHRASE_REQUIRED',
  'KEY_WRONG_PASSPHRASE',
  'KEY_NOT_PKCS8',
  'KEY_MALFORMED',
  'KEY_NOT_RSA',
  'KEY_TOO_SMALL',
  'KMS_KEY_WRONG_SPEC',
  'KMS_KEY_WRONG_USAGE',
  'KEY_SOURCE_ACCESS_DENIED',
  'CONFIG_INVALID',
  'ACCOUNT_IDENTIFIER_INVALID',
  'JWT_LIFETIME_INVALID',
  'OAUTH_SECRET_UNAVAILABLE',
]);
const DEFAULT_RETRY_AFTER_SECONDS = 5;

/**
 * Map any error to the public contract: a stable code, an HTTP status, a PascalCase name and a message
 * that says what to fix. Messages of our own errors are secret-free by construction; anything
 * unexpected becomes `INTERNAL` with a generic message, so no stray text reaches a caller.
 *
 * @example
 * ```ts
 * publicError(new NotAuthorizedError()); // { code: 'NOT_AUTHORIZED', status: 403, name: 'NotAuthorized', … }
 * ```
 */
export function publicError(error: unknown): PublicError {
  if (!(error instanceof TokenVendorError)) {
    return make('INTERNAL', 'Internal error. The request id identifies it in the service logs.', 'INTERNAL');
  }
  const code = error.code;
  if (
    code in PUBLIC_ERRORS &&
    !['THROTTLED', 'UPSTREAM_UNAVAILABLE', 'CONFIG_ERROR', 'INTERNAL'].includes(code)
  ) {
    return make(code as PublicErrorCode, error.message, code);
  }
  if (INPUT.has(code)) return make('INVALID_REQUEST', error.message, code);
  if (KEY_CONFIG.has(code)) {
    return make(
      'CONFIG_ERROR',
      `The vendor is misconfigured for this target (${code}); an operator must fix it. ${error.message}`,
      code,
    );
  }
  if (error instanceof SnowflakeError) {
    switch (error.code) {
      case 'SNOWFLAKE_AUTH_FAILED':
        return make('SNOWFLAKE_AUTH_FAILED', error.message, code);
      case 'SNOWFLAKE_REJECTED':
      case 'SNOWFLAKE_PROTOCOL_ERROR':
        return make('SNOWFLAKE_REJECTED', error.message, code);
      default:
        if (error.httpStatus === 429) {
          return make(
            'THROTTLED',
            `Snowflake is throttling the vendor. ${error.message}`,
            code,
            error.retryAfterSeconds ?? DEFAULT_RETRY_AFTER_SECONDS,
          );
        }
        return make(
          'UPSTREAM_UNAVAILABLE',
          error.message,
          code,
          error.retryAfterSeconds ?? DEFAULT_RETRY_AFTER_SECONDS,
        );
    }
  }
  if (code === 'OAUTH_UNAVAILABLE' || code === 'KEY_SOURCE_UNAVAILABLE') {
    return make('UPSTREAM_UNAVAILABLE', error.message, code, DEFAULT_RETRY_AFTER_SECONDS);
  }
  return make('INTERNAL', 'Internal error. The request id identifies it in the service logs.', code);
}

function make(
  code: PublicErrorCode,
  message: string,
  cause: string,
  retryAfterSeconds?: number,
): PublicError {
  const { status, name } = PUBLIC_ERRORS[code];
  return {
    code,
    status,
    name,
    message,
    cause,
    ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }),
  };
}
