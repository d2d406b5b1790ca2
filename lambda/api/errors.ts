/**
 * The API's stable error codes, once: HTTP status, the PascalCase name Step Functions `Retry`/`Catch`
 * on, what each means (for the documentation), and the generic message a caller gets when the detail
 * stays in the audit record (configuration and upstream failures). The HTTP handler, the direct
 * handler, the CLI's exit codes, the client and the OpenAPI document all read this table.
 */
export const ERRORS = {
  INVALID_REQUEST: {
    status: 400,
    name: 'InvalidRequest',
    meaning: 'The body is not JSON, has unknown or missing fields, or a bad name.',
    message: 'The request is invalid.',
  },
  NOT_AUTHORIZED: {
    status: 403,
    name: 'NotAuthorized',
    meaning:
      'No grant for this principal and target (the same answer whether or not the target exists), or no IAM identity.',
    message: 'The caller is not granted this target.',
  },
  REVOKED: {
    status: 403,
    name: 'Revoked',
    meaning:
      "An operator revoked this principal's access, or this target, fleet-wide (the revocation list); the message gives the entry's reason.",
    message: 'Access is revoked.',
  },
  UNKNOWN_TARGET: {
    status: 404,
    name: 'UnknownTarget',
    meaning: 'No such route.',
    message: 'No such route.',
  },
  PAYLOAD_TOO_LARGE: {
    status: 413,
    name: 'PayloadTooLarge',
    meaning: 'The body is over 64 KiB.',
    message: 'The request body is too large.',
  },
  PAT_LIMIT: {
    status: 429,
    name: 'PatLimit',
    meaning:
      "The PAT target's Snowflake user holds 15 programmatic access tokens, Snowflake's limit; Retry-After, when given, is when one of this vendor's leases ends and its token is removed.",
    message:
      "The PAT target's Snowflake user holds as many programmatic access tokens as Snowflake allows; retry after the Retry-After delay when there is one.",
  },
  THROTTLED: {
    status: 429,
    name: 'Throttled',
    meaning: 'Snowflake throttled the vendor past the deadline; retry after Retry-After seconds.',
    message: 'Snowflake is throttling the vendor; retry after the Retry-After delay.',
  },
  SNOWFLAKE_REJECTED: {
    status: 502,
    name: 'SnowflakeRejected',
    meaning: 'Snowflake refused the statement that mints the token (privileges, instance, user).',
    message:
      'Snowflake refused the statement that mints this token; an operator can find the reason in the audit log by the request id.',
  },
  SNOWFLAKE_AUTH_FAILED: {
    status: 502,
    name: 'SnowflakeAuthFailed',
    meaning: "Snowflake refused the vendor's credentials for the connection (key not registered, clock).",
    message:
      "Snowflake refused the vendor's credentials for this connection; an operator must check its key (the audit log has the reason under the request id).",
  },
  OAUTH_REJECTED: {
    status: 502,
    name: 'OAuthRejected',
    meaning: 'The OAuth token endpoint refused the token request.',
    message:
      'The OAuth token endpoint refused the token request; an operator can find the reason in the audit log by the request id.',
  },
  OAUTH_SCOPE_EXCEEDED: {
    status: 502,
    name: 'OAuthScopeExceeded',
    meaning: 'The token endpoint granted scopes beyond those requested; the token was discarded.',
    message: 'The OAuth token endpoint granted scopes beyond those requested, so the token was not vended.',
  },
  UPSTREAM_UNAVAILABLE: {
    status: 503,
    name: 'UpstreamUnavailable',
    meaning:
      'Snowflake, KMS, Secrets Manager or the OAuth server failed past retries and the deadline; retry after Retry-After seconds.',
    message:
      'An upstream service (Snowflake, the OAuth token endpoint or AWS) did not answer usefully in time; retry after the Retry-After delay.',
  },
  REVOCATION_LIST_UNAVAILABLE: {
    status: 503,
    name: 'RevocationListUnavailable',
    meaning:
      'The revocation list could not be read and this container has not read one yet: the vendor refuses rather than serve on an unknown list; retry after Retry-After seconds.',
    message:
      'The revocation list could not be read, so the vendor cannot tell whether access is revoked; retry after the Retry-After delay.',
  },
  CONFIG_ERROR: {
    status: 500,
    name: 'ConfigError',
    meaning: "The vendor's own key, secret or config cannot be used; the audit record has the detail.",
    message:
      'The vendor is misconfigured for this target; an operator must fix it (the audit log has the reason under the request id).',
  },
  INTERNAL: {
    status: 500,
    name: 'Internal',
    meaning: 'A bug; the request id finds it in the service logs.',
    message: 'Internal error. The request id identifies it in the service logs.',
  },
} as const satisfies Record<string, { status: number; name: string; meaning: string; message: string }>;

export type ErrorCode = keyof typeof ERRORS;

/** Is `code` one of the API's codes? */
export function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(ERRORS, code);
}
