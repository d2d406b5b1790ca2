import { decodeJwt } from 'jose';
import { TokenVendorError } from '../errors';
import { CredentialCache, firstLine, type SqlApiAuthenticator, type SqlApiCredential } from './authenticator';

/** The audience Snowflake requires in a workload identity token (unless the user sets OIDC_AUDIENCE_LIST). */
export const SNOWFLAKE_WIF_AUDIENCE = 'snowflakecomputing.com';
/** The algorithm the vendor asks STS for (STS offers RS256 and ES384). */
export const WIF_SIGNING_ALGORITHM = 'ES384';
/** Claims STS nests under this namespace (account, region, principal_id, tags). */
export const STS_CLAIMS_NAMESPACE = 'https://sts.amazonaws.com/';

/** The input and output of STS `GetWebIdentityToken`, as the SDK's command takes and returns them. */
export interface GetWebIdentityTokenInput {
  readonly Audience: string[];
  readonly SigningAlgorithm: string;
  readonly DurationSeconds: number;
}
export interface GetWebIdentityTokenOutput {
  readonly WebIdentityToken?: string | undefined;
  readonly Expiration?: Date | undefined;
}
/** One STS call: the runtime wires it to `STSClient.send(new GetWebIdentityTokenCommand(input))`. */
export type GetWebIdentityToken = (input: GetWebIdentityTokenInput) => Promise<GetWebIdentityTokenOutput>;

export type WorkloadIdentityErrorCode =
  | 'WIF_FEDERATION_DISABLED'
  | 'WIF_NOT_PERMITTED'
  | 'WIF_REQUEST_INVALID'
  | 'WIF_UNAVAILABLE';

/** STS could not give the vendor a workload identity token. */
export class WorkloadIdentityError extends TokenVendorError {
  declare readonly code: WorkloadIdentityErrorCode;
  constructor(code: WorkloadIdentityErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** Who the token says the vendor is: the role ARN Snowflake matches against the user's WORKLOAD_IDENTITY. */
export interface WorkloadIdentityClaims {
  /** `arn:aws:iam::<account>:role/<name>` (STS puts the role ARN, not the session ARN, in the token). */
  readonly roleArn: string;
  readonly issuer: string;
  readonly account?: string;
}

const NOT_PERMITTED = new Set([
  'AccessDenied',
  'AccessDeniedException',
  'SessionDurationEscalationException',
  'InvalidClientTokenId',
  'SignatureDoesNotMatch',
  'RegionDisabledException',
  'UnrecognizedClientException',
]);
const INVALID = new Set(['ValidationError', 'JWTPayloadSizeExceededException', 'InvalidParameterValue']);

/** What a workload identity refusal from Snowflake most likely means (the emulator's codes; see README). */
const WIF_HINTS: Record<string, string> = {
  '390430': 'the credential is not a well-formed WIF.AWS token',
  '390431':
    "no Snowflake user trusts the token's issuer (set ISSUER in the user's WORKLOAD_IDENTITY to the account's outbound issuer URL)",
  '390432': "the token's signature does not verify against the issuer's published keys",
  '390433': 'the token was issued for another audience (Snowflake expects snowflakecomputing.com)',
  '390434': 'the token has expired or is not yet valid (check the clock)',
  '390435':
    "no Snowflake user has a workload identity with the vendor's role ARN (ALTER USER … SET WORKLOAD_IDENTITY = (TYPE = AWS ARN = '<role ARN>'))",
  '390144': 'the token was refused',
};

export interface WorkloadIdentityAuthenticatorOptions {
  readonly getWebIdentityToken: GetWebIdentityToken;
  /** STS token lifetime, 60-3600 s. */
  readonly lifetimeSeconds: number;
  readonly now?: () => number;
}

/**
 * Keyless sign-in: the function's IAM role asks STS `GetWebIdentityToken` for an ES384 JWT with audience
 * `snowflakecomputing.com` and sends it as `Authorization: Bearer WIF.AWS.<jwt>` with
 * `X-Snowflake-Authorization-Token-Type: WORKLOAD_IDENTITY_FEDERATION`. One token is reused until a
 * margin before its expiry (a fifth of its life, at least 60 s), with one STS call in flight.
 *
 * @example
 * ```ts
 * const auth = new WorkloadIdentityAuthenticator({ getWebIdentityToken: (i) => sts.send(new GetWebIdentityTokenCommand(i)), lifetimeSeconds: 900 });
 * ```
 */
export class WorkloadIdentityAuthenticator implements SqlApiAuthenticator {
  readonly kind = 'wif' as const;
  readonly #cache: CredentialCache<SqlApiCredential & { readonly claims: WorkloadIdentityClaims }>;

  constructor(options: WorkloadIdentityAuthenticatorOptions) {
    const now = options.now ?? Date.now;
    this.#cache = new CredentialCache(async () => {
      let answer: GetWebIdentityTokenOutput;
      try {
        answer = await options.getWebIdentityToken({
          Audience: [SNOWFLAKE_WIF_AUDIENCE],
          SigningAlgorithm: WIF_SIGNING_ALGORITHM,
          DurationSeconds: options.lifetimeSeconds,
        });
      } catch (error) {
        throw error instanceof WorkloadIdentityError ? error : stsError(error);
      }
      const token = answer.WebIdentityToken;
      const claims = token ? claimsOf(token) : undefined;
      if (!token || !claims) {
        throw new WorkloadIdentityError(
          'WIF_REQUEST_INVALID',
          'STS GetWebIdentityToken answered without a readable token.',
        );
      }
      const fetchedAt = now();
      const expiresAt = answer.Expiration?.getTime() ?? fetchedAt + options.lifetimeSeconds * 1000;
      const margin = Math.max(60_000, (expiresAt - fetchedAt) / 5);
      return {
        bearer: `WIF.AWS.${token}`,
        tokenType: 'WORKLOAD_IDENTITY_FEDERATION',
        refreshAt: Math.max(fetchedAt, expiresAt - margin),
        identity: `workload identity ${claims.roleArn}`,
        claims,
      };
    }, now);
  }

  credential(): Promise<SqlApiCredential> {
    return this.#cache.get();
  }

  /** Who the vendor is to Snowflake, from its current token (the rotation check compares it with Snowflake's). */
  async claims(): Promise<WorkloadIdentityClaims> {
    return (await this.#cache.get()).claims;
  }

  invalidate(used: SqlApiCredential): void {
    this.#cache.drop(used);
  }

  refusal(used: SqlApiCredential, snowflakeCode: string, said: string | undefined): string {
    const hint = WIF_HINTS[snowflakeCode] ?? firstLine(said) ?? 'authentication failed';
    return `Snowflake refused the ${used.identity} (code ${snowflakeCode}): ${hint}.`;
  }
}

/**
 * The role ARN and issuer a token names, read without verifying it (the vendor got it from STS over TLS;
 * Snowflake verifies it). Undefined when the token is not a JWT with those claims.
 */
export function claimsOf(token: string): WorkloadIdentityClaims | undefined {
  let payload: Record<string, unknown>;
  try {
    payload = decodeJwt(token);
  } catch {
    return undefined;
  }
  const aws = payload[STS_CLAIMS_NAMESPACE];
  const nested = aws && typeof aws === 'object' ? (aws as Record<string, unknown>) : {};
  const principal = typeof nested.principal_id === 'string' ? nested.principal_id : payload.sub;
  if (typeof principal !== 'string' || typeof payload.iss !== 'string') return undefined;
  return {
    roleArn: roleArnOf(principal),
    issuer: payload.iss,
    ...(typeof nested.aws_account === 'string' ? { account: nested.aws_account } : {}),
  };
}

/**
 * The IAM role ARN behind a principal ARN, as Snowflake maps it: an assumed-role session
 * `arn:aws:sts::<acct>:assumed-role/<name>/<session>` becomes `arn:aws:iam::<acct>:role/<name>`.
 * Any other ARN is returned unchanged. (A role's path is not in the session ARN; Snowflake documents
 * the ARN without the path for that reason.)
 *
 * @example
 * ```ts
 * roleArnOf('arn:aws:sts::123456789012:assumed-role/vendor/fn'); // 'arn:aws:iam::123456789012:role/vendor'
 * ```
 */
export function roleArnOf(principalArn: string): string {
  const session = /^arn:(aws[a-z-]*):sts::(\d{12}):assumed-role\/([^/]+)\/[^/]+$/.exec(principalArn);
  return session ? `arn:${session[1]}:iam::${session[2]}:role/${session[3]}` : principalArn;
}

function stsError(error: unknown): WorkloadIdentityError {
  const name = error instanceof Error ? error.name : '';
  const status = (error as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata
    ?.httpStatusCode;
  if (name === 'OutboundWebIdentityFederationDisabledException') {
    return new WorkloadIdentityError(
      'WIF_FEDERATION_DISABLED',
      'Outbound identity federation is not enabled for this AWS account (aws iam enable-outbound-web-identity-federation).',
      { cause: error },
    );
  }
  if (NOT_PERMITTED.has(name)) {
    return new WorkloadIdentityError(
      'WIF_NOT_PERMITTED',
      `STS refused GetWebIdentityToken (${name}): the function's role needs sts:GetWebIdentityToken for audience ${SNOWFLAKE_WIF_AUDIENCE} and a regional STS endpoint.`,
      { cause: error },
    );
  }
  if (INVALID.has(name) || (status !== undefined && status >= 400 && status < 500 && status !== 429)) {
    return new WorkloadIdentityError(
      'WIF_REQUEST_INVALID',
      `STS refused the GetWebIdentityToken request (${name || `HTTP ${status}`}).`,
      { cause: error },
    );
  }
  return new WorkloadIdentityError(
    'WIF_UNAVAILABLE',
    `STS GetWebIdentityToken failed (${name || 'network error'}); retry later.`,
    { cause: error },
  );
}
