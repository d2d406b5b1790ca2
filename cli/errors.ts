import { TokenVendorError } from '../lambda/errors';
import { publicError } from '../lambda/vending/public-error';
import { ExitCode } from './io';

/** Bad flags or arguments: exit 2 with one line on stderr. */
export class UsageError extends TokenVendorError {
  constructor(message: string) {
    super('USAGE', message);
  }
}

/** API Gateway (or the local gateway) refusing the SigV4 signature or the credentials. */
const GATEWAY_REFUSALS = new Set([
  'FORBIDDEN',
  'MISSING_AUTHENTICATION_TOKEN',
  'INVALID_SIGNATURE',
  'UNRECOGNIZED_CLIENT',
  'INCOMPLETE_SIGNATURE',
]);

/**
 * The exit code for an error: 2 bad usage or input, 3 rejected by Snowflake/OAuth (or refused by the
 * API), 4 upstream error, 1 anything else. Errors map through the same table as the API's answers
 * (`publicError`), so the CLI and the service agree on what each failure is; for the CLI, the key, the
 * config and the account it was given are input (2), not the service's misconfiguration.
 *
 * @example
 * ```ts
 * exitCodeFor(new UsageError('missing --account')); // 2
 * ```
 */
export function exitCodeFor(error: unknown): ExitCode {
  const code = error instanceof TokenVendorError ? error.code : undefined;
  if (code === undefined) return ExitCode.Other;
  if (code === 'USAGE') return ExitCode.Usage;
  if (GATEWAY_REFUSALS.has(code)) return ExitCode.Rejected;
  if (code === 'NETWORK_ERROR') return ExitCode.Upstream;
  switch (publicError(error).code) {
    case 'INVALID_REQUEST':
    case 'PAYLOAD_TOO_LARGE':
    case 'CONFIG_ERROR':
      return ExitCode.Usage;
    case 'NOT_AUTHORIZED':
    case 'REVOKED':
    case 'UNKNOWN_TARGET':
    case 'SNOWFLAKE_REJECTED':
    case 'SNOWFLAKE_AUTH_FAILED':
    case 'OAUTH_REJECTED':
    case 'OAUTH_SCOPE_EXCEEDED':
      return ExitCode.Rejected;
    case 'THROTTLED':
    case 'UPSTREAM_UNAVAILABLE':
    case 'REVOCATION_LIST_UNAVAILABLE':
      return ExitCode.Upstream;
    default:
      return ExitCode.Other;
  }
}

/** The request id an error carries (the service's, for matching the audit record), if any. */
function requestIdOf(error: unknown): string | undefined {
  const id = (error as { requestId?: unknown } | undefined)?.requestId;
  return typeof id === 'string' && id !== '' ? id : undefined;
}

/**
 * One line for stderr: `token-vendor: KEY_WRONG_PASSPHRASE: The passphrase does not …`, ending in
 * `(request id …)` when the service answered, so the failure can be found in the audit trail.
 */
export function errorLine(error: unknown): string {
  const id = requestIdOf(error);
  const suffix = id ? ` (request id ${id})` : '';
  if (error instanceof TokenVendorError)
    return `token-vendor: ${error.code}: ${error.message.replaceAll('\n', ' ')}${suffix}`;
  const message = error instanceof Error ? error.message : String(error);
  return `token-vendor: ${message.replaceAll('\n', ' ')}${suffix}`;
}

/** The same as one JSON object: `{"error":{"code":…,"message":…,"requestId":…}}`. */
export function errorJson(error: unknown): string {
  const id = requestIdOf(error);
  return JSON.stringify({
    error: {
      code: error instanceof TokenVendorError ? error.code : 'ERROR',
      message: error instanceof Error ? error.message : String(error),
      ...(id ? { requestId: id } : {}),
    },
  });
}
