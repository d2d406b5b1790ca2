import { createPublicKey } from 'node:crypto';
import { compactVerify, decodeProtectedHeader, errors } from 'jose';
import { type EmulatedUser, fingerprintOfBody } from './state';

/** A JWT rejection with the Snowflake error code the SQL API would return (HTTP 401). */
export interface JwtRejection {
  readonly code: string;
  readonly reason: string;
}

export interface VerifiedCaller {
  readonly user: EmulatedUser;
  readonly fingerprint: string;
  readonly slot: 1 | 2;
}

/** Snowflake counts a key-pair JWT valid for at most one hour after `iat`. */
const MAX_VALIDITY_SECONDS = 3600;
/** Clock skew Snowflake tolerates for `iat` in the future. */
const ALLOWED_SKEW_SECONDS = 60;

/**
 * Verify a key-pair JWT the way Snowflake does, returning the caller or the rejection code:
 * 390144 generic/format/signature, 394305 algorithm, 394307 account, 394300 unknown user,
 * 394304 fingerprint not registered, 394302 issue time invalid, 394303 expired.
 */
export async function verifySnowflakeJwt(
  token: string,
  accounts: ReadonlySet<string>,
  users: ReadonlyMap<string, EmulatedUser>,
  nowMs: number,
): Promise<VerifiedCaller | JwtRejection> {
  const reject = (code: string, reason: string): JwtRejection => ({ code, reason });
  let header: ReturnType<typeof decodeProtectedHeader>;
  let claims: Record<string, unknown>;
  try {
    header = decodeProtectedHeader(token);
    const payload = token.split('.')[1];
    if (payload === undefined || token.split('.').length !== 3) return reject('390144', 'not a compact JWS');
    claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
  } catch {
    return reject('390144', 'JWT cannot be decoded');
  }
  if (header.alg !== 'RS256') return reject('394305', `algorithm ${String(header.alg)} is not RS256`);

  const { iss, sub, iat, exp } = claims;
  if (typeof iss !== 'string' || typeof sub !== 'string' || sub === '')
    return reject('390144', 'iss and sub are required');
  const fpMatch = /^(.+)\.(SHA256:[A-Za-z0-9+/]{43}=)$/.exec(iss);
  if (!fpMatch) return reject('390144', 'iss must be ACCOUNT.USER.SHA256:<fingerprint>');
  const [, qualified, fingerprint] = fpMatch as unknown as [string, string, string];
  if (qualified !== sub) return reject('390144', 'iss does not start with sub');
  const dot = sub.indexOf('.');
  if (dot <= 0 || dot === sub.length - 1) return reject('390144', 'sub must be ACCOUNT.USER');
  const account = sub.slice(0, dot);
  const userName = sub.slice(dot + 1);
  if (account !== account.toUpperCase() || userName !== userName.toUpperCase()) {
    return reject('390144', 'account and user in iss/sub must be uppercase');
  }
  if (!accounts.has(account))
    return reject('394307', `account ${account} in the token does not match this account`);
  const user = users.get(userName);
  if (!user) return reject('394300', `user ${userName} in the issuer does not exist`);

  const slot =
    user.rsaPublicKey && fingerprintOfBody(user.rsaPublicKey) === fingerprint
      ? 1
      : user.rsaPublicKey2 && fingerprintOfBody(user.rsaPublicKey2) === fingerprint
        ? 2
        : undefined;
  if (slot === undefined)
    return reject('394304', `public key fingerprint ${fingerprint} is not registered for ${userName}`);
  const body = slot === 1 ? user.rsaPublicKey! : user.rsaPublicKey2!;
  try {
    await compactVerify(
      token,
      createPublicKey({ key: Buffer.from(body, 'base64'), format: 'der', type: 'spki' }),
      {
        algorithms: ['RS256'],
      },
    );
  } catch (error) {
    return reject(
      '390144',
      error instanceof errors.JWSSignatureVerificationFailed ? 'signature does not verify' : 'JWS is invalid',
    );
  }

  if (typeof iat !== 'number' || typeof exp !== 'number')
    return reject('390144', 'iat and exp must be numbers');
  // Snowflake accepts seconds or milliseconds.
  const iatS = iat > 1e11 ? iat / 1000 : iat;
  const expS = exp > 1e11 ? exp / 1000 : exp;
  const nowS = nowMs / 1000;
  if (iatS > nowS + ALLOWED_SKEW_SECONDS) return reject('394302', 'iat is in the future');
  if (expS - iatS > MAX_VALIDITY_SECONDS) return reject('390144', 'exp is more than 3600 s after iat');
  if (expS <= nowS || nowS - iatS > MAX_VALIDITY_SECONDS) return reject('394303', 'the JWT has expired');
  return { user, fingerprint, slot };
}
