import { ERRORS, type ErrorCode } from '../api/errors';
import { TokenVendorError } from '../errors';
import { SnowflakeError } from '../snowflake/errors';

export { ERRORS as PUBLIC_ERRORS } from '../api/errors';
export type PublicErrorCode = ErrorCode;

/** What a caller is told about a failure. */
export interface PublicError {
  readonly code: PublicErrorCode;
  readonly status: number;
  /** PascalCase error name for Step Functions `Retry`/`Catch`. */
  readonly name: string;
  readonly message: string;
  /**
   * What actually went wrong, for the audit record only: caller-facing messages for configuration and
   * upstream failures are generic, because the detail can name secret ids, key ids, file paths or hosts.
   */
  readonly detail: string;
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
  'KEY_FILE_UNPROTECTED',
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
  'WIF_FEDERATION_DISABLED',
  'WIF_NOT_PERMITTED',
  'WIF_REQUEST_INVALID',
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
  if (!(error instanceof TokenVendorError)) return make('INTERNAL', 'INTERNAL', INTERNAL_DETAIL);
  const { code, message } = error;
  if (CALLER_FACING.has(code)) return make(code as PublicErrorCode, code, message, message);
  if (INPUT.has(code)) return make('INVALID_REQUEST', code, message, message);
  if (KEY_CONFIG.has(code)) return make('CONFIG_ERROR', code, message);
  if (error instanceof SnowflakeError) {
    switch (error.code) {
      case 'SNOWFLAKE_AUTH_FAILED':
        return make('SNOWFLAKE_AUTH_FAILED', code, message);
      case 'SNOWFLAKE_REJECTED':
      case 'SNOWFLAKE_PROTOCOL_ERROR':
        return make('SNOWFLAKE_REJECTED', code, message);
      default:
        return make(
          error.httpStatus === 429 ? 'THROTTLED' : 'UPSTREAM_UNAVAILABLE',
          code,
          message,
          undefined,
          error.retryAfterSeconds ?? DEFAULT_RETRY_AFTER_SECONDS,
        );
    }
  }
  if (code === 'OAUTH_REJECTED' || code === 'OAUTH_SCOPE_EXCEEDED') return make(code, code, message);
  // PATs: what Snowflake's rules refuse, said to the caller (names of its own target only, no secret).
  if (code === 'PAT_LIMIT')
    return make(
      'PAT_LIMIT',
      code,
      message,
      message,
      (error as { retryAfterSeconds?: number }).retryAfterSeconds,
    );
  if (code === 'PAT_PRECONDITION_FAILED') return make('SNOWFLAKE_REJECTED', code, message, message);
  if (code === 'PAT_BUSY')
    return make('UPSTREAM_UNAVAILABLE', code, message, undefined, PAT_BUSY_RETRY_AFTER_SECONDS);
  if (code === 'PAT_LEASES_UNAVAILABLE')
    return make(
      'UPSTREAM_UNAVAILABLE',
      code,
      `${message}${causeText(error)}`,
      undefined,
      DEFAULT_RETRY_AFTER_SECONDS,
    );
  if (code === 'REVOCATION_LIST_UNAVAILABLE')
    return make(code, code, `${message}${causeText(error)}`, undefined, REVOCATION_RETRY_AFTER_SECONDS);
  if (
    code === 'OAUTH_UNAVAILABLE' ||
    code === 'KEY_SOURCE_UNAVAILABLE' ||
    code === 'WIF_UNAVAILABLE' ||
    code === 'DEADLINE_EXCEEDED'
  ) {
    return make('UPSTREAM_UNAVAILABLE', code, message, undefined, DEFAULT_RETRY_AFTER_SECONDS);
  }
  return make('INTERNAL', code, message);
}

/** Codes whose own message is the caller's answer: they describe the caller's request, nothing internal. */
const CALLER_FACING = new Set([
  'INVALID_REQUEST',
  'NOT_AUTHORIZED',
  // The entry's reason is the operator's message to whoever it names.
  'REVOKED',
  'UNKNOWN_TARGET',
  'PAYLOAD_TOO_LARGE',
]);
/** Another container is making the caller's PAT: it is usually there in a second or two. */
const PAT_BUSY_RETRY_AFTER_SECONDS = 2;
/** A container without a list retries its read on the next vend: soon is enough. */
const REVOCATION_RETRY_AFTER_SECONDS = 2;

/** Why a read failed, for the audit record's detail (an AWS error's name and message carry no secret). */
function causeText(error: TokenVendorError): string {
  const cause = error.cause as { name?: unknown; message?: unknown } | undefined;
  return cause && typeof cause.name === 'string'
    ? ` (${cause.name}: ${String(cause.message).slice(0, 200)})`
    : '';
}
const INTERNAL_DETAIL = 'an unexpected error (see errorCause)';

function make(
  code: PublicErrorCode,
  cause: string,
  detail: string,
  message: string = ERRORS[code].message,
  retryAfterSeconds?: number,
): PublicError {
  const { status, name } = ERRORS[code];
  return {
    code,
    status,
    name,
    message,
    detail,
    cause,
    ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }),
  };
}
