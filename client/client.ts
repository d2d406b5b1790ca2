import { fromNodeProviderChain } from '@aws-sdk/credential-providers';
import { Hash } from '@smithy/hash-node';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import { RESPONSES } from '../lambda/api/responses';
import { ROUTES, type TokenType } from '../lambda/api/routes';
import { urlProblem } from '../lambda/config/url';
import { type RetryPolicy, retrying } from '../lambda/retry';
import { SingleFlight } from '../lambda/single-flight';
import {
  type OAuthAccessToken,
  type OAuthRequest,
  type PatRequest,
  type PostgresRequest,
  type PostgresToken,
  type ProgrammaticAccessToken,
  type SnowflakeJwt,
  type SnowflakeJwtRequest,
  TokenVendorClientError,
  type VendedToken,
} from './types';

export interface TokenVendorClientOptions {
  /** The API's base URL: the stack's `ApiUrl` output (…/prod/) or the local gateway (http://127.0.0.1:8787). */
  readonly endpoint: string;
  /** Region of the API (the SigV4 scope); default `AWS_REGION` or us-east-1. */
  readonly region?: string;
  /** Default: the AWS SDK's default credential chain (env, profile, SSO, ECS/EC2 roles, …). */
  readonly credentials?: AwsCredentialIdentity | AwsCredentialIdentityProvider;
  /**
   * Cached tokens are renewed at a random moment in the last `jitterRatio` of the span before
   * `refreshAt`, so a fleet does not ask all at once. Default 0.1.
   */
  readonly jitterRatio?: number;
  /** Per-request timeout; default 15 s. */
  readonly timeoutMs?: number;
  readonly fetch?: typeof fetch;
  /** Clock for cache decisions (tests inject it); signatures always use the real time. */
  readonly now?: () => number;
  readonly random?: () => number;
  /** Retries of throttled or failed calls; default 3 attempts, full-jitter backoff from 100 ms. */
  readonly retry?: RetryPolicy;
}

interface Cached {
  readonly token: VendedToken;
  readonly renewAt: number;
}

/**
 * A client for services: SigV4-signed calls to the Token Vendor, typed answers, tokens cached until
 * (a jittered moment before) `refreshAt`, and concurrent requests for one target sharing one call.
 *
 * @example
 * ```ts
 * const vendor = new TokenVendorClient({ endpoint: process.env.TOKEN_VENDOR_ENDPOINT! });
 * const { token, connection } = await vendor.postgres({ instance: 'reporting_server', username: 'reporting_user' });
 * ```
 */
export class TokenVendorClient {
  readonly #options: TokenVendorClientOptions;
  readonly #signer: SignatureV4;
  readonly #cache = new Map<string, Cached>();
  readonly #flights = new SingleFlight<string, VendedToken>();
  readonly #now: () => number;
  readonly #base: URL;

  constructor(options: TokenVendorClientOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    const problem = urlProblem(options.endpoint);
    if (problem) throw new TokenVendorClientError('INVALID_ENDPOINT', 0, `The endpoint ${problem}.`);
    this.#base = new URL(options.endpoint.endsWith('/') ? options.endpoint : `${options.endpoint}/`);
    const credentials = options.credentials ?? fromNodeProviderChain();
    this.#signer = new SignatureV4({
      service: 'execute-api',
      region: options.region ?? process.env.AWS_REGION ?? 'us-east-1',
      credentials: typeof credentials === 'function' ? credentials : async () => credentials,
      sha256: Hash.bind(null, 'sha256'),
    });
  }

  /** A Snowflake Postgres access token (the password for `username`). */
  postgres(request: PostgresRequest): Promise<PostgresToken> {
    return this.#get('postgres', { ...request }) as Promise<PostgresToken>;
  }

  /** A Snowflake key-pair JWT for the SQL API. */
  snowflakeJwt(request: SnowflakeJwtRequest): Promise<SnowflakeJwt> {
    return this.#get('snowflake-jwt', { ...request }) as Promise<SnowflakeJwt>;
  }

  /** An OAuth access token for a configured integration. */
  oauth(request: OAuthRequest): Promise<OAuthAccessToken> {
    return this.#get('oauth', {
      ...request,
      ...(request.scopes ? { scopes: [...request.scopes] } : {}),
    }) as Promise<OAuthAccessToken>;
  }

  /**
   * A leased, role-restricted Snowflake programmatic access token (a password for drivers and BI tools,
   * or a SQL API bearer token). Asking again before `refreshAt` gets the same one; the vendor removes it
   * from Snowflake at `expiresAt`.
   */
  pat(request: PatRequest): Promise<ProgrammaticAccessToken> {
    return this.#get('pat', { ...request }) as Promise<ProgrammaticAccessToken>;
  }

  /** Forget cached tokens (for example after a connection was refused). */
  clear(): void {
    this.#cache.clear();
  }

  async #get(route: TokenType, body: Record<string, unknown>): Promise<VendedToken> {
    const key = `${route}\u0000${JSON.stringify(body, Object.keys(body).sort())}`;
    const cached = this.#cache.get(key);
    if (cached && this.#now() < cached.renewAt) return cached.token;
    const { value } = await this.#flights.run(key, async () => {
      const token = await this.#call(route, body);
      this.#cache.set(key, { token, renewAt: this.#renewAt(token) });
      return token;
    });
    return value;
  }

  #renewAt(token: VendedToken): number {
    const refreshAt = token.refreshAt.getTime();
    const span = Math.max(0, refreshAt - this.#now());
    const jitter = (this.#options.jitterRatio ?? 0.1) * span * (this.#options.random ?? Math.random)();
    return refreshAt - jitter;
  }

  /**
   * One signed call, retried under the project's retry policy on throttling (429, honouring
   * `Retry-After`), 502/503/504 and network errors, within `timeoutMs` overall. Refusals and the
   * vendor's own 500s are not retried.
   */
  #call(route: TokenType, body: Record<string, unknown>): Promise<VendedToken> {
    const now = Date.now;
    const deadline = now() + (this.#options.timeoutMs ?? 15_000);
    let lastError: TokenVendorClientError | undefined;
    return retrying<VendedToken>(
      async () => {
        try {
          return { done: await this.#once(route, body, deadline) };
        } catch (error) {
          if (!(error instanceof TokenVendorClientError) || !CLIENT_RETRIES.has(error.status)) throw error;
          lastError = error;
          return {
            retry: error.code,
            ...(error.retryAfterSeconds === undefined
              ? {}
              : { retryAfterMs: error.retryAfterSeconds * 1000 }),
          };
        }
      },
      {
        policy: this.#options.retry ?? CLIENT_RETRY_POLICY,
        deadline,
        giveUp: () => lastError ?? new TokenVendorClientError('NETWORK_ERROR', 0, 'No answer in time.'),
        ...(this.#options.random ? { random: this.#options.random } : {}),
      },
    );
  }

  async #once(route: TokenType, body: Record<string, unknown>, deadline: number): Promise<VendedToken> {
    const url = new URL(ROUTES[route].path.slice(1), this.#base);
    const payload = JSON.stringify(body);
    const unsigned = new HttpRequest({
      method: ROUTES[route].method,
      protocol: url.protocol,
      hostname: url.hostname,
      port: url.port ? Number(url.port) : undefined,
      path: url.pathname,
      headers: { host: url.host, 'content-type': 'application/json', accept: 'application/json' },
      body: payload,
    });
    // Signing always uses the real clock; `now` only decides what the cache serves.
    const signed = await this.#signer.sign(unsigned);
    let response: Response;
    try {
      response = await (this.#options.fetch ?? fetch)(url, {
        method: ROUTES[route].method,
        headers: signed.headers,
        body: payload,
        signal: AbortSignal.timeout(Math.max(1, deadline - Date.now())),
      });
    } catch (error) {
      throw new TokenVendorClientError(
        'NETWORK_ERROR',
        0,
        `The Token Vendor at ${this.#base.origin} could not be reached: ${(error as Error).message}`,
      );
    }
    const text = await response.text();
    let json: Record<string, unknown> | undefined;
    try {
      json = JSON.parse(text) as Record<string, unknown>;
    } catch {
      json = undefined;
    }
    if (response.ok) {
      // The answer must be what the contract says this route answers; anything else is not a token.
      const parsed = RESPONSES[route].safeParse(json);
      if (parsed.success) return revive(parsed.data);
      throw new TokenVendorClientError(
        'PROTOCOL_ERROR',
        response.status,
        `The answer of ${ROUTES[route].path} does not match the API contract.`,
      );
    }
    const error = (json?.error ?? {}) as { code?: string; message?: string; requestId?: string };
    const retryAfter = Number(response.headers.get('retry-after'));
    throw new TokenVendorClientError(
      error.code ?? gatewayCode(response.status, response.headers.get('x-amzn-errortype')),
      response.status,
      error.message ?? (typeof json?.message === 'string' ? json.message : `HTTP ${response.status}`),
      {
        requestId: error.requestId ?? response.headers.get('x-amzn-requestid') ?? undefined,
        ...(Number.isFinite(retryAfter) && retryAfter > 0 ? { retryAfterSeconds: retryAfter } : {}),
      },
    );
  }
}

/** What the client retries: throttling, gateway and availability failures, no answer at all. */
const CLIENT_RETRIES = new Set([0, 429, 502, 503, 504]);
const CLIENT_RETRY_POLICY: RetryPolicy = { maxAttempts: 3, baseDelayMs: 100, maxDelayMs: 2000 };

function revive(json: { issuedAt: string; expiresAt: string; refreshAt: string }): VendedToken {
  return {
    ...json,
    issuedAt: new Date(json.issuedAt),
    expiresAt: new Date(json.expiresAt),
    refreshAt: new Date(json.refreshAt),
  } as unknown as VendedToken;
}

/** API Gateway refusals carry `x-amzn-ErrorType` rather than the vendor's error body. */
function gatewayCode(status: number, errorType: string | null): string {
  if (errorType)
    return errorType
      .split(':')[0]!
      .replace(/Exception$/, '')
      .replace(/([a-z])([A-Z])/g, '$1_$2')
      .toUpperCase();
  return status === 403 ? 'FORBIDDEN' : `HTTP_${status}`;
}
