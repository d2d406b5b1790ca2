import { signRs256Jwt } from '../keys/jws';
import type { Signer } from '../keys/signer';
import { DEFAULT_REFRESH_RATIO, type TokenLifetime, tokenLifetime } from '../ttl';
import { accountForJwt } from './account';
import { JwtRequestError } from './errors';

/** Snowflake treats a key-pair JWT as valid for at most one hour after `iat`, whatever `exp` says. */
export const MAX_JWT_LIFETIME_SECONDS = 3600;
/** Snowflake's own SQL API sample: 59 minutes. */
export const DEFAULT_JWT_LIFETIME_SECONDS = 59 * 60;

/** A signed key-pair JWT with its TTL metadata. */
export interface KeyPairJwt extends TokenLifetime {
  readonly tokenType: 'KEYPAIR_JWT';
  readonly token: string;
  /** Account part of `iss`/`sub` (`MYORG-MYACCOUNT`). */
  readonly account: string;
  /** User part of `iss`/`sub` (uppercase). */
  readonly user: string;
  readonly publicKeyFingerprint: string;
  /** Version of the key that signed it (non-secret). */
  readonly keyVersion: string;
}

export interface MintKeyPairJwtOptions {
  /** Any account identifier form `parseAccountIdentifier` accepts. */
  readonly account: string;
  readonly user: string;
  readonly signer: Signer;
  /** Seconds, 1…3600; default 3540 (59 minutes). A longer lifetime is refused, never issued. */
  readonly lifetimeSeconds?: number;
  readonly refreshRatio?: number;
  /** Clock in epoch milliseconds; injected by tests. */
  readonly now?: () => number;
}

/**
 * Mint a Snowflake key-pair JWT (RS256) for the SQL API:
 * `iss = ACCOUNT.USER.SHA256:fp`, `sub = ACCOUNT.USER`, `iat`/`exp` in epoch seconds.
 *
 * Signing goes through a {@link Signer}, so the private key may live in KMS (see `keys/jws.ts`).
 *
 * @example
 * ```ts
 * const jwt = await mintKeyPairJwt({ account: 'myorg-myaccount', user: 'svc', signer });
 * fetch(url, { headers: { Authorization: `Bearer ${jwt.token}` } });
 * ```
 */
export async function mintKeyPairJwt(options: MintKeyPairJwtOptions): Promise<KeyPairJwt> {
  const lifetime = options.lifetimeSeconds ?? DEFAULT_JWT_LIFETIME_SECONDS;
  if (!Number.isInteger(lifetime) || lifetime < 1 || lifetime > MAX_JWT_LIFETIME_SECONDS) {
    throw new JwtRequestError(
      'JWT_LIFETIME_INVALID',
      `JWT lifetime must be a whole number of seconds from 1 to ${MAX_JWT_LIFETIME_SECONDS}; got ${String(lifetime)}. ` +
        'Snowflake ignores any expiry past one hour after iat.',
    );
  }
  const account = accountForJwt(options.account);
  const user = normalizeUser(options.user);
  const now = options.now ?? Date.now;

  const key = await options.signer.currentKey();
  const nowMs = now();
  const iat = Math.floor(nowMs / 1000);
  const exp = iat + lifetime;
  const qualified = `${account}.${user}`;
  const token = await signRs256Jwt({ iss: `${qualified}.${key.fingerprint}`, sub: qualified, iat, exp }, key);

  return {
    tokenType: 'KEYPAIR_JWT',
    token,
    account,
    user,
    publicKeyFingerprint: key.fingerprint,
    keyVersion: key.version,
    ...tokenLifetime(iat * 1000, exp * 1000, nowMs, options.refreshRatio ?? DEFAULT_REFRESH_RATIO),
  };
}

/**
 * The user part of `iss`/`sub`: uppercased, nothing else changed (no trimming of dots, no quoting),
 * as every official connector does.
 */
export function normalizeUser(user: string): string {
  if (typeof user !== 'string' || user.length === 0 || user.length > 255 || /\p{Cc}/u.test(user)) {
    throw new JwtRequestError(
      'JWT_USER_INVALID',
      'The Snowflake user must be 1–255 characters without control characters.',
    );
  }
  return user.toUpperCase();
}
