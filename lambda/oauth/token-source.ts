import { randomUUID } from 'node:crypto';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { Config, OAuthIntegration } from '../config/schema';
import { signRs256Jwt } from '../keys/jws';
import type { Signer } from '../keys/signer';
import type { OAuthAccessToken, OAuthTokenSource } from './access-token';
import { ClientSecret } from './client-secret';
import { OAuthError, OAuthErrorCode } from './errors';
import { requestToken } from './token-endpoint';

/** Used when neither the token response nor the integration gives a lifetime. */
export const FALLBACK_ACCESS_TOKEN_VALIDITY_SECONDS = 300;

export interface OAuthDeps {
  readonly secretsManager: () => SecretsManagerClient | Promise<SecretsManagerClient>;
  /** The signer of a JWT_BEARER integration's assertion key. */
  readonly assertionSigner: (integration: string) => Signer;
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly fetch?: typeof fetch;
  readonly now?: () => number;
}

/**
 * Build the vendor's OAuth token source for the configured integrations: `CLIENT_CREDENTIALS` posts the
 * client id and secret (`CLIENT_SECRET_POST`); `JWT_BEARER` posts a signed assertion (RFC 7523). The
 * lifetime follows Snowflake's External API Authentication rule: `OAUTH_ACCESS_TOKEN_VALIDITY` is used
 * when the answer has no `expires_in`, and when both exist the smaller decides.
 *
 * @example
 * ```ts
 * const oauth = oauthTokenSource(config, { secretsManager: () => sm, assertionSigner });
 * const token = await oauth('servicenow', ['useraccount'], deadline);
 * ```
 */
export function oauthTokenSource(config: Config, deps: OAuthDeps): OAuthTokenSource {
  const secrets = new Map<string, ClientSecret>();
  const secretOf = (name: string, integration: OAuthIntegration) => {
    if (!integration.clientSecret) return undefined;
    let secret = secrets.get(name);
    if (!secret) {
      secret = new ClientSecret(integration.clientSecret, {
        secretsManager: deps.secretsManager,
        env: deps.env,
        now: deps.now,
      });
      secrets.set(name, secret);
    }
    return secret;
  };
  const now = deps.now ?? Date.now;

  return async (name, scopes, deadline): Promise<OAuthAccessToken> => {
    const integration = config.oauthIntegrations[name]!;
    // The policy resolves a non-empty scope list; without `scope` a token endpoint answers with the
    // client's default scopes, which may be wider than anything granted.
    if (scopes.length === 0) throw new TypeError('an OAuth token request needs an explicit scope list');
    const clientSecret = await secretOf(name, integration)?.get();
    const form: Record<string, string> = { client_id: integration.clientId };
    if (clientSecret) form.client_secret = clientSecret;
    form.scope = scopes.join(' ');
    const secretsInPlay = clientSecret ? [clientSecret] : [];

    if (integration.grant === 'CLIENT_CREDENTIALS') {
      form.grant_type = 'client_credentials';
    } else {
      const assertion = integration.assertion!;
      const iat = Math.floor(now() / 1000);
      const jwt = await signRs256Jwt(
        {
          iss: assertion.issuer,
          sub: assertion.subject,
          aud: assertion.audience ?? integration.tokenEndpoint,
          iat,
          exp: iat + assertion.lifetimeSeconds,
          jti: randomUUID(),
        },
        await deps.assertionSigner(name).currentKey(),
      );
      form.grant_type = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
      form.assertion = jwt;
      secretsInPlay.push(jwt);
    }

    const answer = await requestToken({
      endpoint: integration.tokenEndpoint,
      form,
      secrets: secretsInPlay,
      deadline,
      fetch: deps.fetch,
      now,
    });
    // RFC 6749 §5.1: `scope` may be narrower than asked; wider is a token the caller was never granted.
    const beyond = answer.scopes?.filter((s) => !scopes.includes(s)) ?? [];
    if (beyond.length > 0) {
      throw new OAuthError(
        OAuthErrorCode.ScopeExceeded,
        `The token endpoint of integration "${name}" granted scopes that were not requested (${beyond.slice(0, 10).join(' ').slice(0, 200)}); the token was discarded.`,
      );
    }
    const lifetimes = [answer.expiresIn, integration.accessTokenValiditySeconds].filter(
      (v): v is number => v !== undefined,
    );
    const lifetime = lifetimes.length > 0 ? Math.min(...lifetimes) : FALLBACK_ACCESS_TOKEN_VALIDITY_SECONDS;
    return {
      token: answer.accessToken,
      scopes: answer.scopes ?? scopes,
      issuedAt: new Date(answer.sentAt),
      expiresAt: new Date(answer.sentAt + lifetime * 1000),
    };
  };
}
