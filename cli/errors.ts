import { TokenVendorError } from '../lambda/errors';
import { ExitCode } from './io';

/** Bad flags or arguments: exit 2 with one line on stderr. */
export class UsageError extends TokenVendorError {
  constructor(message: string) {
    super('USAGE', message);
  }
}

/** Codes that mean the caller's input (flags, files, keys, config) is wrong. */
const INPUT_CODES = new Set([
  'USAGE',
  'CONFIG_INVALID',
  'ACCOUNT_IDENTIFIER_INVALID',
  'JWT_LIFETIME_INVALID',
  'JWT_USER_INVALID',
  'INVALID_REQUEST',
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
  'POSTGRES_NAME_INVALID',
]);
/** Snowflake or the OAuth server refused us: fix credentials, grants or registration. */
const REJECTED_CODES = new Set([
  'SNOWFLAKE_AUTH_FAILED',
  'SNOWFLAKE_REJECTED',
  'OAUTH_REJECTED',
  'NOT_AUTHORIZED',
  'UNKNOWN_TARGET',
]);
/** Something upstream failed; retrying later may help. */
const UPSTREAM_CODES = new Set([
  'UPSTREAM_UNAVAILABLE',
  'SNOWFLAKE_UNAVAILABLE',
  'SNOWFLAKE_STATEMENT_TIMEOUT',
  'SNOWFLAKE_PROTOCOL_ERROR',
  'KEY_SOURCE_UNAVAILABLE',
  'KEY_SOURCE_ACCESS_DENIED',
  'THROTTLED',
  'NETWORK_ERROR',
  'INTERNAL',
  'CONFIG_ERROR',
]);

/**
 * The exit code for an error: 2 bad usage or input, 3 rejected by Snowflake/OAuth, 4 upstream error,
 * 1 anything else.
 *
 * @example
 * ```ts
 * exitCodeFor(new UsageError('missing --account')); // 2
 * ```
 */
export function exitCodeFor(error: unknown): ExitCode {
  const code = error instanceof TokenVendorError ? error.code : undefined;
  if (code === undefined) return ExitCode.Other;
  if (INPUT_CODES.has(code)) return ExitCode.Usage;
  if (REJECTED_CODES.has(code)) return ExitCode.Rejected;
  if (UPSTREAM_CODES.has(code)) return ExitCode.Upstream;
  return ExitCode.Other;
}

/** One line for stderr: `token-vendor: KEY_WRONG_PASSPHRASE: The passphrase does not …`. */
export function errorLine(error: unknown): string {
  if (error instanceof TokenVendorError)
    return `token-vendor: ${error.code}: ${error.message.replaceAll('\n', ' ')}`;
  const message = error instanceof Error ? error.message : String(error);
  return `token-vendor: ${message.replaceAll('\n', ' ')}`;
}
