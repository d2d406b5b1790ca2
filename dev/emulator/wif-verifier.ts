import {
  createRemoteJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  errors,
  type JWTVerifyGetKey,
  jwtVerify,
} from 'jose';
import type { JwtRejection } from './jwt-verifier';
import type { EmulatedUser } from './state';

/** The audience Snowflake requires of an AWS workload identity token. */
export const WIF_AUDIENCE = 'snowflakecomputing.com';
const STS_NAMESPACE = 'https://sts.amazonaws.com/';
/** Snowflake accepts tokens that live at most an hour (STS issues 60-3600 s). */
const MAX_LIFETIME_SECONDS = 3600;
const ALLOWED_SKEW_SECONDS = 60;

/**
 * The emulator's refusal codes for workload identity sign-in. Snowflake does not document per-cause codes
 * for WIF; these are the emulator's own (with `genericJwtErrors` every refusal is the generic 390144).
 */
export const WifRefusal = {
  Malformed: '390430',
  UntrustedIssuer: '390431',
  BadSignature: '390432',
  WrongAudience: '390433',
  Expired: '390434',
  UnknownIdentity: '390435',
} as const;

/**
 * Verifies `WIF.AWS.<jwt>` bearers as Snowflake does for the GetWebIdentityToken method: the issuer
 * must be one a user trusts (its `WORKLOAD_IDENTITY` ISSUER); the signature must verify against the
 * keys the issuer publishes (OIDC discovery, then `jwks_uri`); `aud` must be `snowflakecomputing.com`
 * and nothing else; `iat`/`exp` must hold now (`iat` not in the future, 60 s skew, at most an hour apart); and the role ARN in the token (an
 * assumed-role session ARN maps to its role) must be the user's registered ARN.
 *
 * @example
 * ```ts
 * const caller = await new WifVerifier(Date.now).verify(bearer, emulator.users);
 * ```
 */
export class WifVerifier {
  readonly #keys = new Map<string, Promise<JWTVerifyGetKey>>();

  constructor(private readonly now: () => number) {}

  async verify(
    bearer: string,
    users: ReadonlyMap<string, EmulatedUser>,
  ): Promise<{ user: EmulatedUser } | JwtRejection> {
    const reject = (code: string, reason: string): JwtRejection => ({ code, reason });
    if (!bearer.startsWith('WIF.AWS.'))
      return reject(
        WifRefusal.Malformed,
        'the credential is not WIF.AWS.<token> (only AWS is supported here)',
      );
    const token = bearer.slice('WIF.AWS.'.length);
    let claims: Record<string, unknown>;
    try {
      decodeProtectedHeader(token);
      claims = decodeJwt(token);
    } catch {
      return reject(WifRefusal.Malformed, 'the workload identity token is not a JWT');
    }
    // One audience, Snowflake's. jose accepts a list that merely includes it; a token minted for several
    // relying parties could be replayed by any of them, so the stricter reading refuses any other member.
    if (Array.isArray(claims.aud) && (claims.aud.length !== 1 || claims.aud[0] !== WIF_AUDIENCE))
      return reject(WifRefusal.WrongAudience, `the audience is not ${WIF_AUDIENCE} alone`);
    const issuer = claims.iss;
    if (typeof issuer !== 'string') return reject(WifRefusal.Malformed, 'the token has no issuer');
    const trusting = [...users.values()].filter((u) => u.workloadIdentities.some((w) => w.issuer === issuer));
    if (trusting.length === 0)
      return reject(WifRefusal.UntrustedIssuer, `no user trusts issuer ${issuer.slice(0, 200)}`);

    let keys: JWTVerifyGetKey;
    try {
      keys = await this.#keysOf(issuer);
    } catch (error) {
      this.#keys.delete(issuer);
      return reject(WifRefusal.BadSignature, `the issuer's keys cannot be read: ${(error as Error).message}`);
    }
    try {
      await jwtVerify(token, keys, {
        issuer,
        audience: WIF_AUDIENCE,
        algorithms: ['ES384', 'RS256'],
        requiredClaims: ['iat', 'exp', 'sub'],
        currentDate: new Date(this.now()),
        clockTolerance: ALLOWED_SKEW_SECONDS,
      });
    } catch (error) {
      if (error instanceof errors.JWTExpired) return reject(WifRefusal.Expired, 'the token has expired');
      if (error instanceof errors.JWTClaimValidationFailed) {
        if (error.claim === 'aud')
          return reject(WifRefusal.WrongAudience, `the audience is not ${WIF_AUDIENCE}`);
        if (error.claim === 'iat' || error.claim === 'nbf')
          return reject(WifRefusal.Expired, 'the token is not yet valid');
        return reject(WifRefusal.Malformed, `claim ${error.claim} is invalid`);
      }
      return reject(WifRefusal.BadSignature, 'the signature does not verify against the issuer keys');
    }
    const iat = claims.iat as number;
    const exp = claims.exp as number;
    // jose checks `iat` only for its type (and its age when asked): a token issued in the future is
    // refused here. Snowflake does not document its rule for WIF; this is the stricter reading, the same
    // skew it allows a key-pair JWT's `iat`.
    if (typeof iat !== 'number' || iat > this.now() / 1000 + ALLOWED_SKEW_SECONDS)
      return reject(WifRefusal.Expired, 'the token is not yet valid (iat is in the future)');
    if (exp - iat > MAX_LIFETIME_SECONDS)
      return reject(WifRefusal.Expired, 'the token lives longer than an hour');

    const nested = claims[STS_NAMESPACE];
    const principal =
      nested &&
      typeof nested === 'object' &&
      typeof (nested as Record<string, unknown>).principal_id === 'string'
        ? ((nested as Record<string, unknown>).principal_id as string)
        : claims.sub;
    const roleArn = typeof principal === 'string' ? roleOf(principal) : '';
    const user = trusting.find((u) =>
      u.workloadIdentities.some((w) => w.issuer === issuer && w.arn === roleArn),
    );
    if (!user)
      return reject(
        WifRefusal.UnknownIdentity,
        `no user has a workload identity for ${roleArn.slice(0, 200)}`,
      );
    return { user };
  }

  #keysOf(issuer: string): Promise<JWTVerifyGetKey> {
    let keys = this.#keys.get(issuer);
    if (!keys) {
      keys = discover(issuer);
      this.#keys.set(issuer, keys);
    }
    return keys;
  }
}

/** OIDC discovery: `<issuer>/.well-known/openid-configuration` names the issuer and its `jwks_uri`. */
async function discover(issuer: string): Promise<JWTVerifyGetKey> {
  const base = new URL(issuer);
  const loopback = base.hostname === '127.0.0.1' || base.hostname === 'localhost';
  // Snowflake fetches only https issuers; the emulator also accepts a loopback http one (the local STS).
  if (base.protocol !== 'https:' && !(base.protocol === 'http:' && loopback))
    throw new Error('the issuer is not an https URL');
  const response = await fetch(`${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`, {
    signal: AbortSignal.timeout(2000),
  });
  if (!response.ok) throw new Error(`discovery answered HTTP ${response.status}`);
  const document = (await response.json()) as { issuer?: unknown; jwks_uri?: unknown };
  if (document.issuer !== issuer) throw new Error('the discovery document names another issuer');
  if (typeof document.jwks_uri !== 'string') throw new Error('the discovery document has no jwks_uri');
  return createRemoteJWKSet(new URL(document.jwks_uri), { timeoutDuration: 2000 });
}

/** `arn:aws:sts::<acct>:assumed-role/<name>/<session>` → `arn:aws:iam::<acct>:role/<name>`, as Snowflake maps it. */
function roleOf(principal: string): string {
  const session = /^arn:(aws[a-z-]*):sts::(\d{12}):assumed-role\/([^/]+)\/[^/]+$/.exec(principal);
  return session ? `arn:${session[1]}:iam::${session[2]}:role/${session[3]}` : principal;
}
