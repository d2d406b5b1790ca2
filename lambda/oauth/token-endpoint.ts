import { isRetriableStatus, parseRetryAfter, type RetryPolicy, retrying } from '../retry';
import { USER_AGENT } from '../version';
import { OAuthError, OAuthErrorCode } from './errors';

/** A successful token endpoint answer (RFC 6749 §5.1). */
export interface TokenEndpointAnswer {
  readonly accessToken: string;
  readonly tokenType: string;
  /** `expires_in` in seconds, when the server said. */
  readonly expiresIn?: number;
  /** `scope` as granted, when the server said. */
  readonly scopes?: readonly string[];
  /** When the (last) request was sent, epoch ms. */
  readonly sentAt: number;
}

export interface TokenEndpointOptions {
  readonly endpoint: string;
  /** The form fields; values named in `secrets` are scrubbed from every error message. */
  readonly form: Readonly<Record<string, string>>;
  readonly secrets: readonly string[];
  readonly deadline: number;
  readonly fetch?: typeof fetch;
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly random?: () => number;
  readonly maxAttempts?: number;
}

/**
 * POST an `application/x-www-form-urlencoded` token request and read the answer. 429, 5xx and network
 * failures are retried with jittered backoff inside the deadline (a token request has no side effect
 * worth protecting); an OAuth error answer is an {@link OAuthError} `OAUTH_REJECTED` at once.
 *
 * @example
 * ```ts
 * const answer = await requestToken({ endpoint, form: { grant_type: 'client_credentials', … }, secrets: [secret], deadline });
 * ```
 */
export async function requestToken(options: TokenEndpointOptions): Promise<TokenEndpointAnswer> {
  const fetchFn = options.fetch ?? fetch;
  const now = options.now ?? Date.now;
  const scrub = (text: string) =>
    options.secrets.reduce((t, s) => (s ? t.replaceAll(s, '[REDACTED]') : t), text).slice(0, 300);
  const body = new URLSearchParams(options.form).toString();

  return retrying<TokenEndpointAnswer>(
    async () => {
      const sentAt = now();
      let status = 0;
      let json: Record<string, unknown> | undefined;
      let retryAfterMs: number | undefined;
      try {
        const response = await fetchFn(options.endpoint, {
          method: 'POST',
          headers: {
            'Content-Type': 'application/x-www-form-urlencoded',
            Accept: 'application/json',
            'User-Agent': USER_AGENT,
          },
          body,
          signal: AbortSignal.timeout(Math.max(1, options.deadline - sentAt)),
        });
        status = response.status;
        retryAfterMs = parseRetryAfter(response.headers.get('retry-after'), now());
        const text = await response.text();
        try {
          json = JSON.parse(text) as Record<string, unknown>;
        } catch {
          json = undefined;
        }
      } catch {
        return { retry: 'network error' };
      }
      if (status === 200 && json && typeof json.access_token === 'string' && json.access_token !== '') {
        const expiresIn = Number(json.expires_in);
        return {
          done: {
            accessToken: json.access_token,
            tokenType: typeof json.token_type === 'string' ? json.token_type : 'Bearer',
            ...(Number.isFinite(expiresIn) && expiresIn > 0 ? { expiresIn } : {}),
            ...(typeof json.scope === 'string' ? { scopes: json.scope.split(' ').filter(Boolean) } : {}),
            sentAt,
          },
        };
      }
      if (status !== 200 && !isRetriableStatus(status)) {
        const error = typeof json?.error === 'string' ? json.error : `HTTP ${status}`;
        const description = typeof json?.error_description === 'string' ? `: ${json.error_description}` : '';
        throw new OAuthError(
          OAuthErrorCode.Rejected,
          scrub(`The OAuth token endpoint refused the request (${error}${description}).`),
          { httpStatus: status, oauthError: typeof json?.error === 'string' ? json.error : undefined },
        );
      }
      return {
        retry: status === 200 ? 'an answer without access_token' : `HTTP ${status}`,
        ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
      };
    },
    {
      policy: {
        ...TOKEN_ENDPOINT_RETRY,
        ...(options.maxAttempts ? { maxAttempts: options.maxAttempts } : {}),
      },
      deadline: options.deadline,
      now,
      ...(options.sleep ? { sleep: options.sleep } : {}),
      ...(options.random ? { random: options.random } : {}),
      giveUp: (last) =>
        new OAuthError(
          OAuthErrorCode.Unavailable,
          `The OAuth token endpoint did not answer usefully (last: ${last}).`,
        ),
    },
  );
}

/** A token request has no side effect worth protecting, but a token endpoint is no place to hammer. */
const TOKEN_ENDPOINT_RETRY: RetryPolicy = { maxAttempts: 3, baseDelayMs: 100, maxDelayMs: 2000 };
