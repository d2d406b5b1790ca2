import { createPublicKey, type KeyObject, randomBytes } from 'node:crypto';
import { compactVerify, decodeJwt } from 'jose';

/** An OAuth client the emulated token endpoint knows. */
export interface OAuthClientSpec {
  readonly clientId: string;
  /** Required for client_credentials (CLIENT_SECRET_POST). */
  readonly clientSecret?: string;
  /** During a provider-side rotation: another secret the client may also use (old and new both work). */
  readonly nextClientSecret?: string;
  /** Public key that verifies JWT-bearer assertions, and the issuer they must carry. */
  readonly assertionKey?: KeyObject;
  readonly assertionIssuer?: string;
  readonly allowedScopes: readonly string[];
  /**
   * Fault injection: scopes the server adds to every answer beyond what was asked (a peer that grants
   * more than was requested, which the vendor must refuse).
   */
  readonly extraScopes?: readonly string[];
  /** `expires_in` to answer with; null leaves it out (the integration's validity then decides). Default 3600. */
  readonly expiresIn?: number | null;
}

export interface IssuedAccessToken {
  readonly token: string;
  readonly clientId: string;
  readonly scopes: readonly string[];
  readonly expiresAt: Date;
}

export interface OAuthAnswer {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

/**
 * The emulated OAuth token endpoint (`POST /oauth/token`): client_credentials with CLIENT_SECRET_POST
 * and the RFC 7523 JWT-bearer grant, answering RFC 6749 shapes (`invalid_client` 401, `invalid_scope`,
 * `invalid_grant`, `unsupported_grant_type` 400).
 */
export async function answerTokenRequest(
  contentType: string | undefined,
  body: string,
  clients: ReadonlyMap<string, OAuthClientSpec>,
  audience: string,
  nowMs: number,
  issue: (token: IssuedAccessToken) => void,
): Promise<OAuthAnswer> {
  const fail = (status: number, error: string, description: string): OAuthAnswer => ({
    status,
    body: { error, error_description: description },
  });
  if (!/^application\/x-www-form-urlencoded\b/i.test(contentType ?? '')) {
    return fail(400, 'invalid_request', 'Content-Type must be application/x-www-form-urlencoded');
  }
  const form = new URLSearchParams(body);
  const client = clients.get(form.get('client_id') ?? '');
  if (!client) return fail(401, 'invalid_client', 'unknown client');
  const grant = form.get('grant_type');

  if (grant === 'client_credentials') {
    if (!client.clientSecret || !secretMatches(client, form.get('client_secret')))
      return fail(401, 'invalid_client', 'client authentication failed');
  } else if (grant === JWT_BEARER) {
    if (client.clientSecret && !secretMatches(client, form.get('client_secret')))
      return fail(401, 'invalid_client', 'client authentication failed');
    const assertion = form.get('assertion');
    if (!assertion || !client.assertionKey)
      return fail(400, 'invalid_grant', 'assertion missing or not accepted for this client');
    try {
      await compactVerify(
        assertion,
        client.assertionKey.type === 'public' ? client.assertionKey : createPublicKey(client.assertionKey),
        { algorithms: ['RS256'] },
      );
    } catch {
      return fail(400, 'invalid_grant', 'assertion signature is invalid');
    }
    const claims = decodeJwt(assertion);
    const nowS = nowMs / 1000;
    if (claims.iss !== client.assertionIssuer)
      return fail(400, 'invalid_grant', 'assertion issuer is not accepted');
    if (claims.aud !== audience)
      return fail(400, 'invalid_grant', 'assertion audience is not this token endpoint');
    if (typeof claims.exp !== 'number' || claims.exp <= nowS)
      return fail(400, 'invalid_grant', 'assertion has expired');
    if (typeof claims.iat !== 'number' || claims.iat > nowS + 60)
      return fail(400, 'invalid_grant', 'assertion issued in the future');
  } else {
    return fail(400, 'unsupported_grant_type', `grant_type ${grant ?? '(none)'} is not supported`);
  }

  const requested = (form.get('scope') ?? '').split(' ').filter(Boolean);
  const scopes = requested.length > 0 ? requested : [...client.allowedScopes];
  if (!scopes.every((s) => client.allowedScopes.includes(s)))
    return fail(400, 'invalid_scope', 'a requested scope is not allowed');

  const expiresIn = client.expiresIn === undefined ? 3600 : client.expiresIn;
  const token = `oat.${randomBytes(24).toString('base64url')}`;
  issue({
    token,
    clientId: client.clientId,
    scopes,
    expiresAt: new Date(nowMs + (expiresIn ?? 86_400) * 1000),
  });
  return {
    status: 200,
    body: {
      access_token: token,
      token_type: 'Bearer',
      ...(expiresIn === null ? {} : { expires_in: expiresIn }),
      scope: [...scopes, ...(client.extraScopes ?? [])].join(' '),
    },
  };
}

function secretMatches(client: OAuthClientSpec, given: string | null): boolean {
  return given !== null && (given === client.clientSecret || given === client.nextClientSecret);
}
