import { TokenVendorError } from '../errors';

export const OAuthErrorCode = {
  /** The token endpoint refused the request (400/401/403 with an OAuth error). */
  Rejected: 'OAUTH_REJECTED',
  /** The token endpoint failed (5xx, 429, network, unreadable answer) past the retries or deadline. */
  Unavailable: 'OAUTH_UNAVAILABLE',
  /** The token endpoint granted a scope that was not asked for: the token is refused, never vended. */
  ScopeExceeded: 'OAUTH_SCOPE_EXCEEDED',
  /** The client secret cannot be read from its source. */
  SecretUnavailable: 'OAUTH_SECRET_UNAVAILABLE',
} as const;
export type OAuthErrorCode = (typeof OAuthErrorCode)[keyof typeof OAuthErrorCode];

/** An OAuth token request that failed; the message never holds the client secret or an assertion. */
export class OAuthError extends TokenVendorError {
  declare readonly code: OAuthErrorCode;
  readonly httpStatus?: number;
  /** The OAuth `error` field (`invalid_client`, `invalid_scope`, …). */
  readonly oauthError?: string;

  constructor(
    code: OAuthErrorCode,
    message: string,
    details: { httpStatus?: number; oauthError?: string } = {},
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
    Object.assign(this, details);
  }
}
